"""User text is only ever text, and the page runs under its CSP without violations."""

from helpers import BASE, By, BrowserTest, http, create_user, unique

PAYLOAD = "<img src=x onerror=alert(1)>"


class XssTest(BrowserTest):
    def test_markup_in_a_post_is_shown_literally_and_never_runs(self):
        d = self.driver()
        name = unique("xss")
        self.signup(d, name)
        article = self.post(d, PAYLOAD)
        self.assertEqual(article.find_element(By.CSS_SELECTOR, ".text").text, PAYLOAD)
        self.assertEqual(article.find_elements(By.CSS_SELECTOR, ".text img"), [])
        self.assertEqual(d.execute_script("return document.querySelectorAll('main img[src=\"x\"], img[onerror]').length"), 0)
        self.assert_no_alert(d)

        # The same post, rendered from the API by other views: public feed,
        # thread, profile, in a fresh page load.
        for route, sel in (("#/public", "article.post"), (None, "article.main-post"), (f"#/user/{name}", "article.post")):
            if route is None:
                article = self.find(d, "article.post")
                article.find_element(By.CSS_SELECTOR, "a.when").click()
            else:
                d.get(f"{BASE}/{route}")
            text = self.find(d, f"{sel} .text")
            self.wait(d).until(lambda _: text.text == PAYLOAD)
            self.assertEqual(d.execute_script("return document.querySelectorAll('img[src=\"x\"], [onerror]').length"), 0)
            self.assert_no_alert(d)

    def test_markup_in_a_bio_and_username_context_is_text(self):
        user, token = create_user(unique("bio"))
        status, _, _ = http("PATCH", "/user/me/", {"bio": "<b>bold</b><script>alert(2)</script>"}, token)
        self.assertEqual(status, 200)
        d = self.driver()
        d.get(f"{BASE}/#/user/{user['username']}")
        bio = self.find(d, ".profile .bio")
        self.assertEqual(bio.text, "<b>bold</b><script>alert(2)</script>")
        self.assertEqual(bio.find_elements(By.CSS_SELECTOR, "b, script"), [])
        self.assert_no_alert(d)
