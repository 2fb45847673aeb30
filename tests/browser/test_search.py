"""Finding things in the browser: the search box (posts, accounts, hashtags),
hashtag links in post text and the hashtag timeline, and "who to follow" on
a newcomer's home screen."""

from helpers import BASE, By, BrowserTest, create_user, http, unique


class SearchTest(BrowserTest):
    def search(self, d, text):
        form = self.find(d, "form.search-form")
        box = self.fill(form, "q", text)
        self.assertEqual(box.get_attribute("type"), "search")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    def test_search_box_finds_posts_accounts_and_hashtags(self):
        word = unique("w")
        author, token = create_user(unique("sara"))
        status, post, _ = http("POST", "/post/", {"text": f"Привет {word} #Tag{word}"}, token)
        self.assertEqual(status, 201)
        d = self.driver()
        d.get(BASE + "/#/public")
        self.find(d, "#nav a[href='#/search']").click()
        self.wait_text(d, "h1", "Search")

        # Posts, by a word of their text.
        self.search(d, word.upper())
        self.wait_text(d, "section.list article.post .text", word)
        article = d.find_element(By.CSS_SELECTOR, "section.list article.post")
        self.assertEqual(article.get_attribute("data-post-id"), str(post["id"]))
        current = d.find_element(By.CSS_SELECTOR, ".tabs a[aria-current=page]")
        self.assertEqual(current.text, "Posts")

        # The same query among accounts finds nobody, and says so.
        d.find_element(By.LINK_TEXT, "Accounts").click()
        self.wait_text(d, "section.list .list-status", "No accounts match")

        # Accounts, by a prefix of the username (an @ picks the tab).
        self.search(d, "@" + author["username"][:-2])
        self.wait_text(d, "section.list .user-row", f"@{author['username']}")
        self.assertEqual(d.find_element(By.CSS_SELECTOR, ".tabs a[aria-current=page]").text, "Accounts")

        # Hashtags, with their use counts; the tag opens its timeline.
        self.search(d, f"#tag{word[:4]}")
        self.wait_text(d, "section.list .tag-row", f"#tag{word.lower()}")
        row = d.find_element(By.CSS_SELECTOR, "section.list .tag-row")
        self.assertIn("1 post", row.text)
        row.find_element(By.CSS_SELECTOR, "a.tag").click()
        self.wait_hash(d, f"#/tag/tag{word.lower()}")
        self.wait_text(d, "h1", f"#tag{word.lower()}")
        self.wait_text(d, "section.list article.post .text", word)
        self.assert_no_alert(d)

    def test_hashtag_links_in_post_text_open_the_hashtag_timeline(self):
        word = unique("t")
        _, token = create_user(unique("tim"))
        http("POST", "/post/", {"text": f"older #Mixed{word} post"}, token)
        _, newer, _ = http("POST", "/post/", {"text": f"see #mixed{word}, not #{word}x or a#{word}"}, token)
        d = self.driver()
        d.get(BASE + f"/#/post/{newer['id']}")
        self.wait_text(d, "article.main-post .text", "see")
        links = d.find_elements(By.CSS_SELECTOR, "article.main-post .text a")
        self.assertEqual(
            [(a.text, a.get_attribute("href").split("#", 1)[1]) for a in links],
            [(f"#mixed{word}", f"/tag/mixed{word}"), (f"#{word}x", f"/tag/{word}x")],
        )
        links[0].click()
        self.wait_hash(d, f"#/tag/mixed{word}")
        self.wait(d).until(lambda drv: len(drv.find_elements(By.CSS_SELECTOR, "section.list article.post")) == 2)
        texts = [a.text for a in d.find_elements(By.CSS_SELECTOR, "section.list article.post .text")]
        self.assertTrue(texts[0].startswith("see") and texts[1].startswith("older"), texts)

    def test_a_newcomer_sees_who_to_follow_and_can_follow_from_home(self):
        star, _ = create_user(unique("star"))
        for _ in range(2):
            _, fan = create_user(unique("fan"))
            self.assertEqual(http("POST", f"/user/follow/{star['id']}", None, fan)[0], 201)
        d = self.driver()
        me = unique("newbie")
        self.signup(d, me)
        panel = self.find(d, "section.suggestions")
        self.wait(d).until(lambda _: panel.find_elements(By.CSS_SELECTOR, ".user-row"))
        self.assertIn("Who to follow", panel.text)
        first = panel.find_element(By.CSS_SELECTOR, ".user-row")
        name = first.find_element(By.CSS_SELECTOR, "a.author").text.lstrip("@")
        self.assertIn("follower", first.find_element(By.CSS_SELECTOR, ".why").text)
        button = first.find_element(By.CSS_SELECTOR, "button")
        self.assertEqual(button.text, "Follow")
        button.click()
        self.wait(d).until(lambda _: button.text == "Following")
        following = http("GET", f"/user/{me}/following/")[1]
        self.assertEqual([u["username"] for u in following], [name])
