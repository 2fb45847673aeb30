"""Reports and moderation, and leaving: someone reports a profile and a post,
a moderator suspends the account from the queue; someone deletes their
account from the settings."""

import os
import subprocess

from helpers import BASE, PASSWORD, By, BrowserTest, create_user, http, unique


def make_moderator(username):
    """`pamps role USERNAME moderator` against the server's database."""
    out = subprocess.run(
        [os.environ["PAMPS_BIN"], "role", username, "moderator"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr


class ModerationTest(BrowserTest):
    def report(self, d, scope):
        """Clicks the Report button inside `scope` and sends a reason."""
        scope.find_element(By.CSS_SELECTOR, "button.report").click()
        form = self.find(d, "form.report-form")
        self.assertEqual(d.switch_to.active_element, form.find_element(By.NAME, "reason"))
        form.find_element(By.NAME, "reason").send_keys("Spam, again and again")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        self.wait_text(d, "p.ok", "Report sent")

    def test_report_then_a_moderator_suspends(self):
        target, target_token = create_user(unique("spam"))
        _, post, _ = http("POST", "/post/", {"text": "Buy cheap things"}, target_token)
        d = self.driver()
        self.signup(d, unique("rita"))

        # Report the profile, then the post.
        self.go(d, f"/user/{target['username']}")
        self.report(d, self.find(d, "section.profile"))
        self.go(d, f"/post/{post['id']}")
        self.report(d, self.find(d, f"article[data-post-id='{post['id']}']"))

        # A plain user has no moderation view.
        self.assertFalse(d.find_elements(By.CSS_SELECTOR, "nav a[href='#/moderation']"))

        # A moderator works the queue.
        mod = unique("mod")
        create_user(mod)
        make_moderator(mod)
        m = self.driver()
        self.login(m, mod)
        self.find(m, "nav a[href='#/moderation']").click()
        self.wait_text(m, "ol.reports", f"@{target['username']}")
        reports = m.find_elements(By.CSS_SELECTOR, "li.report")
        self.assertEqual(len(reports), 2)
        self.assertIn("Spam, again and again", reports[0].text)
        suspend = next(b for b in reports[0].find_elements(By.TAG_NAME, "button") if b.text.startswith("Suspend"))
        suspend.click()
        self.wait_text(m, "li.report", "(suspended)")

        status, body, _ = http("GET", "/user/me/", token=target_token)
        self.assertEqual((status, body["detail"]), (403, "Account suspended"))
        status, body, _ = http("POST", "/token", {"username": target["username"], "password": PASSWORD})
        self.assertEqual((status, body["detail"]), (403, "Account suspended"))

        # Resolve both reports; the queue empties.
        for _ in range(2):
            item = self.find(m, "li.report:not(.done)")
            next(b for b in item.find_elements(By.TAG_NAME, "button") if b.text == "Resolve").click()
            self.wait(m).until(lambda _: item not in m.find_elements(By.CSS_SELECTOR, "li.report:not(.done)"))
        m.refresh()
        self.wait_text(m, "p.muted", "No open reports.")

    def test_delete_account(self):
        d = self.driver()
        me = unique("leo")
        self.signup(d, me)
        self.post(d, "Goodbye, world")
        self.go(d, "/settings")
        form = self.find(d, "form[aria-label='Delete account']")

        # A wrong password is refused in the form.
        self.fill(form, "password", "not-my-password")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        self.wait_text(d, "form[aria-label='Delete account'] .error", "not correct")
        self.assertEqual(http("GET", f"/user/{me}/")[0], 200)

        self.fill(form, "password", PASSWORD)
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        self.wait_hash(d, "#/public")
        self.find(d, "nav a[href='#/login']")
        self.assertEqual(http("GET", f"/user/{me}/")[0], 404)
        self.assertEqual(http("POST", "/token", {"username": me, "password": PASSWORD})[0], 401)
        self.assertEqual(d.current_url.split("#")[0].rstrip("/"), BASE)
