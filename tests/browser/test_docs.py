"""The API docs render under their content policy (the headers themselves
are checked in tests/api/surfaces.rs)."""

from helpers import BASE, By, BrowserTest


class DocsTest(BrowserTest):
    def test_swagger_ui_renders_every_operation_without_a_csp_violation(self):
        d = self.driver()
        for path in ("/docs", "/docs/"):
            d.get(f"{BASE}{path}")
            title = self.find(d, ".swagger-ui .info .title")
            self.wait(d).until(lambda _: "pamps" in title.text)
            self.wait(d).until(lambda _: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) > 20)
            log = [e["message"] for e in d.get_log("browser")]
            csp = [m for m in log if "Content Security Policy" in m or "Content-Security-Policy" in m]
            self.assertEqual(csp, [], f"{path}: CSP violations in Chrome's log")
        # The docs page has no violation recorder of its own; the teardown
        # checks the web client's.
        d.get(f"{BASE}/")
        self.find(d, "main")
