"""Visibility and blocks in the browser: the composer's level picker, a
block from a profile that makes the blocked account's posts disappear, and
the list in Settings that undoes it."""

from selenium.webdriver.support.ui import Select

from helpers import By, BrowserTest, create_user, http, unique


class PrivacyTest(BrowserTest):
    def texts(self, d):
        return [a.text for a in d.find_elements(By.CSS_SELECTOR, "article.post .text")]

    def public_feed_shows(self, d, marker):
        """Opens the public feed once `marker` (the newest public post) is on it."""
        self.go(d, "#/public")
        self.wait(d).until(lambda drv: marker in self.texts(drv))
        return self.texts(d)

    def test_a_followers_only_post_and_a_block_that_hides_someone_until_undone(self):
        ben, ben_token = create_user(unique("ben"))
        theirs = f"Ben says hi {unique('p')}"
        status, _, _ = http("POST", "/post/", {"text": theirs}, ben_token)
        self.assertEqual(status, 201)
        d = self.driver()
        me = unique("ana")
        self.signup(d, me)

        # A followers-only post: marked as such, and not on the public feed.
        form = self.find(d, "form.composer")
        Select(form.find_element(By.NAME, "visibility")).select_by_value("private")
        private = f"Only for my followers {unique('p')}"
        article = self.post(d, private)
        self.assertIn("Followers only", article.text)
        _, listed, _ = http("GET", "/post/?order=desc&limit=100")
        self.assertNotIn(private, [p["text"] for p in listed])

        # A public marker newer than ben's post; both are on the public feed.
        form = self.find(d, "form.composer")
        Select(form.find_element(By.NAME, "visibility")).select_by_value("public")
        marker = f"Public marker {unique('p')}"
        self.post(d, marker)
        self.assertIn(theirs, self.public_feed_shows(d, marker))

        # Block ben from his profile: his post is gone from the feed.
        self.go(d, f"#/user/{ben['username']}")
        block = self.find(d, ".privacy-actions button.blocking")
        self.assertEqual(block.text, "Block")
        block.click()
        self.wait(d).until(lambda drv: drv.find_element(By.CSS_SELECTOR, ".privacy-actions button.blocking").text == "Unblock")
        self.assertNotIn(theirs, self.public_feed_shows(d, marker))
        status, profile, _ = http("GET", f"/user/{me}/", token=ben_token)
        self.assertEqual((status, profile["blocked_by"]), (200, True))

        # Settings lists him; Unblock brings his post back.
        self.go(d, "#/settings")
        row = self.wait(d).until(
            lambda drv: next((r for r in drv.find_elements(By.CSS_SELECTOR, ".user-row") if ben["username"] in r.text), None)
        )
        row.find_element(By.CSS_SELECTOR, "button").click()
        self.wait(d).until(lambda drv: not any(ben["username"] in r.text for r in drv.find_elements(By.CSS_SELECTOR, ".user-row")))
        self.assertIn(theirs, self.public_feed_shows(d, marker))
        self.assert_no_alert(d)
