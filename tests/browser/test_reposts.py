"""Reposts and bookmarks, and the small things: own posts on Home, live
counts, the profile's post count, "Log out" on a phone."""

from helpers import By, BrowserTest, create_user, http, unique


def live(d):
    return d.execute_script("return document.documentElement.dataset.live") == "live"


def article(d, post_id):
    return d.find_element(By.CSS_SELECTOR, f"article[data-post-id='{post_id}']")


class RepostTest(BrowserTest):
    def test_a_repost_reaches_the_reposters_followers_once_and_counts_update_live(self):
        author, author_t = create_user(unique("ana"))
        bob, bob_t = create_user(unique("bob"))
        cyd, cyd_t = create_user(unique("cyd"))
        dan, dan_t = create_user(unique("dan"))
        for follower_t in (cyd_t, dan_t):
            http("POST", f"/user/follow/{bob['id']}", token=follower_t)
        http("POST", f"/user/follow/{dan['id']}", token=cyd_t)
        _, post, _ = http("POST", "/post/", {"text": f"Worth sharing {unique('')}"}, author_t)

        # The author watches their own post on Home (own posts are there).
        a = self.driver()
        self.login(a, author["username"])
        self.find(a, f"article[data-post-id='{post['id']}']")
        self.wait(a).until(live)

        # Cyd follows bob and dan, and waits on Home.
        c = self.driver()
        self.login(c, cyd["username"])
        self.find(c, ".list-status")
        self.wait(c).until(live)

        # Bob reposts from the public feed.
        b = self.driver()
        self.login(b, bob["username"])
        b.execute_script("location.hash = '#/public'")
        self.find(b, f"article[data-post-id='{post['id']}']")
        button = article(b, post["id"]).find_element(By.CSS_SELECTOR, "button.repost")
        self.assertEqual(button.get_attribute("aria-pressed"), "false")
        button.click()
        self.wait(b).until(lambda _: button.get_attribute("aria-pressed") == "true")
        self.assertEqual(button.find_element(By.CSS_SELECTOR, ".count").text, "1")

        # Cyd is offered it once, under bob's name.
        more = self.find(c, "button.new-posts")
        self.assertEqual(more.text, "Show 1 new post")
        # Dan reposts too: still one new post, now under dan's name.
        http("POST", f"/post/{post['id']}/repost/", token=dan_t)
        self.wait_text(a, f"article[data-post-id='{post['id']}'] button.repost .count", "2")
        self.assertEqual(more.text, "Show 1 new post")
        more.click()
        shown = c.find_elements(By.CSS_SELECTOR, f"article[data-post-id='{post['id']}']")
        self.assertEqual(len(shown), 1)
        self.assertEqual(shown[0].find_element(By.CSS_SELECTOR, ".reposted-by").text, f"Reposted by @{dan['username']}")
        self.screenshot(c, "repost-on-home.png")

        # The author: counts moved live, and a repost notification.
        http("POST", f"/post/{post['id']}/like/", token=cyd_t)
        self.wait_text(a, f"article[data-post-id='{post['id']}'] button.like .count", "1")
        http("POST", "/post/", {"text": "a reply", "parent_id": post["id"]}, dan_t)
        self.wait_text(a, f"article[data-post-id='{post['id']}'] a.reply .count", "1")
        a.execute_script("location.hash = '#/notifications'")
        self.wait_text(a, "main", f"@{bob['username']} reposted your post")

        # After a reload, the timeline agrees: once, under the latest reposter.
        c.refresh()
        self.find(c, f"article[data-post-id='{post['id']}'] .reposted-by")
        self.assertEqual(len(c.find_elements(By.CSS_SELECTOR, f"article[data-post-id='{post['id']}']")), 1)

        # Bob undoes the repost.
        button.click()
        self.wait(b).until(lambda _: button.get_attribute("aria-pressed") == "false")
        self.assertEqual(http("GET", f"/post/{post['id']}/")[1]["repost_count"], 1)


class BookmarkTest(BrowserTest):
    def test_bookmark_a_post_find_it_under_bookmarks_and_remove_it(self):
        author, author_t = create_user(unique("ana"))
        me, me_t = create_user(unique("me"))
        _, post, _ = http("POST", "/post/", {"text": f"Read later {unique('')}"}, author_t)
        d = self.driver()
        self.login(d, me["username"])
        d.execute_script("location.hash = '#/public'")
        self.find(d, f"article[data-post-id='{post['id']}']")
        button = article(d, post["id"]).find_element(By.CSS_SELECTOR, "button.bookmark")
        button.click()
        self.wait(d).until(lambda _: button.get_attribute("aria-pressed") == "true")
        d.find_element(By.LINK_TEXT, "Bookmarks").click()
        self.wait_hash(d, "#/bookmarks")
        saved = self.find(d, f"article[data-post-id='{post['id']}']")
        self.screenshot(d, "bookmarks.png")
        saved.find_element(By.CSS_SELECTOR, "button.bookmark").click()
        self.wait(d).until(lambda drv: article(drv, post["id"]).find_element(By.CSS_SELECTOR, "button.bookmark").get_attribute("aria-pressed") == "false")
        d.refresh()
        self.wait_text(d, ".list-status", "No bookmarks yet.")
        _, mine, _ = http("GET", "/user/bookmarks/", token=me_t)
        self.assertEqual(mine, [])


class SmallThingsTest(BrowserTest):
    def test_own_posts_on_home_and_the_post_count_agrees_with_the_posts_tab(self):
        me, me_t = create_user(unique("me"))
        _, top, _ = http("POST", "/post/", {"text": "my top-level post"}, me_t)
        _, reply, _ = http("POST", "/post/", {"text": "my reply", "parent_id": top["id"]}, me_t)
        d = self.driver()
        self.login(d, me["username"])
        # Home shows my own posts (the API's timeline with include_own=true).
        self.find(d, f"article[data-post-id='{top['id']}']")
        self.find(d, f"article[data-post-id='{reply['id']}']")
        # The profile's count is what its Posts tab lists: posts and replies.
        d.execute_script("location.hash = arguments[0]", f"#/user/{me['username']}")
        self.wait_text(d, ".stats", "2 posts")
        self.find(d, f"article[data-post-id='{reply['id']}']")
        self.assertEqual(len(d.find_elements(By.CSS_SELECTOR, "section.list article.post")), 2)
        d.find_element(By.LINK_TEXT, "Without replies").click()
        self.wait(d).until(lambda drv: len(drv.find_elements(By.CSS_SELECTOR, "section.list article.post")) == 1)

    def test_log_out_is_reachable_from_the_menu_on_a_phone(self):
        me, _ = create_user(unique("me"))
        d = self.driver(width=390, height=844, mobile=True)
        self.login(d, me["username"])
        logout = self.find(d, "#nav button.linkish")
        self.assertEqual(logout.text, "Log out")
        self.no_horizontal_overflow(d)
        self.screenshot(d, "phone-menu.png")
        logout.click()
        self.wait_hash(d, "#/public")
        self.assertIsNone(d.execute_script("return localStorage.getItem('pamps.refresh')"))
