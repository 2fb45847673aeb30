"""Two people, two browsers: posts, likes, replies and notifications arrive live."""

from helpers import By, BrowserTest, http, unique


def badge(d):
    """The unread badge's number, or 0 when it is hidden."""
    return d.execute_script(
        "const b = document.querySelector('#nav .badge');"
        "return b && !b.hidden ? Number(b.firstChild.textContent) : 0;"
    )


class TwoPeopleLiveTest(BrowserTest):
    def test_the_server_has_a_live_stream(self):
        # Without one the web client quietly goes without live updates; the
        # suite must not.
        status, body, _ = http("POST", "/stream/ticket")
        self.assertEqual(status, 401, f"POST /stream/ticket without a token: {status} {body}")

    def test_a_post_a_like_a_reply_and_a_delete_travel_live_between_two_people(self):
        a_name, b_name = unique("ana"), unique("bob")
        text = f"Live from Ana {unique('')}"
        reply = f"Welcome, Ana! {unique('')}"

        a = self.driver()
        self.signup(a, a_name)
        self.wait(a).until(lambda d: d.execute_script("return document.documentElement.dataset.live") == "live")

        b = self.driver()
        self.signup(b, b_name)
        # B follows A from A's profile.
        b.execute_script("location.hash = arguments[0]", f"#/user/{a_name}")
        follow = self.find(b, ".profile-top button")
        self.assertEqual(follow.text, "Follow")
        follow.click()
        self.wait_text(b, ".profile-top button", "Unfollow")
        self.wait_text(b, ".stats", "1 follower")
        # A is told live: someone followed.
        self.wait(a).until(lambda d: badge(d) == 1)

        # B reads the home timeline (empty so far), connected live.
        b.find_element(By.LINK_TEXT, "Home").click()
        self.find(b, ".list-status")
        self.wait(b).until(lambda d: d.execute_script("return document.documentElement.dataset.live") == "live")
        self.assertNotIn(text, b.find_element(By.TAG_NAME, "main").text)

        # A posts; B gets a "1 new post" affordance, not a jump.
        self.post(a, text)
        more = self.find(b, "button.new-posts")
        self.assertEqual(more.text, "Show 1 new post")
        self.screenshot(b, "live-new-posts-button.png")
        self.assertEqual(b.find_elements(By.CSS_SELECTOR, "article.post"), [])
        self.wait(b).until(lambda d: "1 new post" in d.find_element(By.ID, "announce").get_attribute("textContent"))
        more.click()
        article = self.find(b, "article.post")
        self.assertEqual(article.find_element(By.CSS_SELECTOR, ".text").text, text)
        self.assertEqual(article.find_element(By.CSS_SELECTOR, ".author").text, f"@{a_name}")
        self.assertFalse(more.is_displayed())

        # B likes it: the count updates; A's badge goes up live.
        like = article.find_element(By.CSS_SELECTOR, "button.like")
        self.assertEqual(like.get_attribute("aria-pressed"), "false")
        like.click()
        self.wait(b).until(lambda _: like.get_attribute("aria-pressed") == "true")
        self.assertEqual(like.find_element(By.CSS_SELECTOR, ".count").text, "1")
        self.wait(a).until(lambda d: badge(d) == 2)

        # B replies in the thread; A's badge goes up again.
        article.find_element(By.CSS_SELECTOR, "a.reply").click()
        self.find(b, "article.main-post")
        form = self.find(b, "form.composer")
        form.find_element(By.NAME, "text").send_keys(reply)
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        self.wait_text(b, "section.list", reply)
        self.wait_text(b, "article.main-post a.reply .count", "1")
        self.wait(a).until(lambda d: badge(d) == 3)
        self.screenshot(a, "live-badge.png")

        # A opens notifications: three, newest first; the badge clears.
        a.find_element(By.CSS_SELECTOR, "#nav a[href='#/notifications']").click()
        self.wait(a).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "article.notification")) == 3)
        items = [n.text for n in a.find_elements(By.CSS_SELECTOR, "article.notification")]
        self.assertIn(f"@{b_name} replied to your post", items[0])
        self.assertIn(reply, items[0])
        self.assertIn(f"@{b_name} liked your post", items[1])
        self.assertIn(f"@{b_name} followed you", items[2])
        self.wait(a).until(lambda d: badge(d) == 0)
        self.screenshot(a, "live-notifications.png")

        # A opens the thread from the reply notification and deletes the post.
        a.find_element(By.CSS_SELECTOR, "article.notification .snippet a").click()
        main = self.find(a, "article.main-post")
        self.assertEqual(main.find_element(By.CSS_SELECTOR, ".text").text, text)
        self.wait_text(a, "section.list", reply)
        main.find_element(By.CSS_SELECTOR, "button.delete").click()
        self.find(a, ".confirm button.danger").click()
        self.wait_text(a, "main", "This post was deleted.")
        self.assertEqual(a.find_elements(By.CSS_SELECTOR, "article.main-post"), [])

        # B, still on the thread, sees it go live.
        self.wait_text(b, "main", "This post was deleted.")
        self.assertEqual(b.find_elements(By.CSS_SELECTOR, "article.main-post"), [])
