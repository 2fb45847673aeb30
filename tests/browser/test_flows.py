"""One person's flows over REST: writing, liking, replying, editing, deleting,
following, settings, and an expired session that keeps the draft."""

from selenium.webdriver.common.keys import Keys

from helpers import PASSWORD, By, BrowserTest, create_user, http, unique


class FlowsTest(BrowserTest):
    def test_write_like_reply_edit_delete_follow(self):
        other, other_token = create_user(unique("cleo"))
        _, theirs, _ = http("POST", "/post/", {"text": "A post by someone else"}, other_token)
        d = self.driver()
        me = unique("dan")
        self.signup(d, me)

        # The counter counts down live and stops an over-long post.
        form = self.find(d, "form.composer")
        box = form.find_element(By.NAME, "text")
        counter = form.find_element(By.CSS_SELECTOR, ".counter .n")
        submit = form.find_element(By.CSS_SELECTOR, "button[type=submit]")
        self.assertEqual(counter.text, "280")
        self.assertFalse(submit.is_enabled())
        box.send_keys("x" * 270)
        self.assertEqual(counter.text, "10")
        self.assertIn("near", form.find_element(By.CSS_SELECTOR, ".counter").get_attribute("class"))
        box.send_keys("y" * 15)
        self.assertEqual(counter.text, "-5")
        self.assertFalse(submit.is_enabled())
        box.send_keys(Keys.BACKSPACE * 285)
        self.assertEqual(counter.text, "280")

        # Post, then like and unlike it.
        article = self.post(d, "My first post")
        like = article.find_element(By.CSS_SELECTOR, "button.like")
        like.click()
        self.wait(d).until(lambda _: like.get_attribute("aria-pressed") == "true")
        self.assertEqual(like.find_element(By.CSS_SELECTOR, ".count").text, "1")
        like.click()
        self.wait(d).until(lambda _: like.get_attribute("aria-pressed") == "false")
        self.assertEqual(like.find_element(By.CSS_SELECTOR, ".count").text, "0")

        # Edit in place.
        article.find_element(By.CSS_SELECTOR, "button.edit").click()
        edit = article.find_element(By.CSS_SELECTOR, "form textarea")
        self.assertEqual(d.switch_to.active_element, edit)
        edit.clear()
        edit.send_keys("My first post, edited")
        article.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        self.wait_text(d, f"article[data-post-id] .text", "My first post, edited")
        self.assertEqual(article.find_element(By.CSS_SELECTOR, ".edited").text, "edited")
        self.assertEqual(http("GET", f"/post/{article.get_attribute('data-post-id')}/")[1]["text"], "My first post, edited")

        # Delete with an inline confirmation.
        post_id = article.get_attribute("data-post-id")
        article.find_element(By.CSS_SELECTOR, "button.delete").click()
        self.find(d, ".confirm button.danger").click()
        self.wait(d).until(lambda _: not d.find_elements(By.CSS_SELECTOR, f"article[data-post-id='{post_id}']"))
        self.assertEqual(http("GET", f"/post/{post_id}/")[0], 404)

        # Open someone's profile, follow, then reply in their thread.
        d.execute_script("location.hash = arguments[0]", f"#/user/{other['username']}")
        follow = self.find(d, ".profile-top button")
        self.assertEqual(follow.text, "Follow")
        follow.click()
        self.wait_text(d, ".stats", "1 follower")
        self.assertEqual(follow.text, "Unfollow")
        d.find_element(By.CSS_SELECTOR, ".stats a[href$='/followers']").click()
        self.wait_text(d, "section.list", f"@{me}")
        d.find_element(By.LINK_TEXT, "Posts").click()
        self.find(d, "article.post a.reply").click()
        self.wait_text(d, "article.main-post .text", "A post by someone else")
        reply = self.find(d, "form.composer textarea")
        reply.send_keys("Nice one!")
        reply.send_keys(Keys.CONTROL, Keys.ENTER)
        self.wait_text(d, "section.list article.post .text", "Nice one!")
        self.wait_text(d, "article.main-post a.reply .count", "1")
        self.assertEqual(http("GET", f"/post/{theirs['id']}/")[1]["reply_count"], 1)

        # Unfollow from the profile again.
        d.execute_script("location.hash = arguments[0]", f"#/user/{other['username']}")
        self.wait_text(d, ".profile-top button", "Unfollow")
        d.find_element(By.CSS_SELECTOR, ".profile-top button").click()
        self.wait_text(d, ".stats", "0 followers")

    def test_settings_bio_and_password_change_after_a_reload(self):
        d = self.driver()
        me = unique("eve")
        self.signup(d, me)
        d.refresh()  # the access token now comes from a refresh: not fresh
        self.find(d, "form.composer")
        d.execute_script("location.hash = '#/settings'")
        forms = self.wait(d).until(lambda _: d.find_elements(By.CSS_SELECTOR, "form.card-form"))
        profile, password = forms[0], forms[1]
        self.fill(profile, "bio", "Hello, I'm Eve.")
        self.fill(profile, "avatar", "not a url")
        profile.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        avatar = profile.find_element(By.NAME, "avatar")
        self.wait(d).until(lambda _: avatar.get_attribute("aria-invalid") == "true")
        self.assertIn("avatar", d.find_element(By.ID, avatar.get_attribute("id") + "-err").text.lower())
        avatar.clear()
        profile.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        self.wait_text(d, "form.card-form .ok", "Profile saved.")
        self.assertIsNone(avatar.get_attribute("aria-invalid"))

        self.fill(password, "current_password", "wrong-password-1")
        self.fill(password, "new_password", "brand-new-secret-9")
        password.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        current = password.find_element(By.NAME, "current_password")
        self.wait(d).until(lambda _: current.get_attribute("aria-invalid") == "true")
        self.fill(password, "current_password", PASSWORD)
        password.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        self.wait_text(d, "main", "Password changed.")
        self.assertEqual(http("POST", "/token", {"username": me, "password": "brand-new-secret-9"})[0], 200)

        d.find_element(By.CSS_SELECTOR, "#nav a[href^='#/user/']").click()
        self.wait_text(d, ".profile .bio", "Hello, I'm Eve.")

    def test_an_expired_session_brings_back_the_login_form_and_keeps_the_draft(self):
        user, token = create_user(unique("fay"))
        d = self.driver()
        self.login(d, user["username"])
        box = self.find(d, "form.composer textarea")
        box.send_keys("A half-written thought")
        # The session dies server-side (all refresh tokens revoked) and the
        # access token stops being accepted.
        self.assertEqual(http("POST", "/user/me/password", {"current_password": PASSWORD, "new_password": "another-secret-77"}, token)[0], 204)
        # Stand-in for 30 minutes passing: the page's token is now stale.
        d.execute_script(
            """
            const real = window.fetch;
            window.__realFetch = real;
            window.fetch = (url, opts = {}) => {
              if (opts.headers && opts.headers.Authorization) opts.headers.Authorization = 'Bearer expired.token.value';
              return real(url, opts);
            };
            """
        )
        d.find_element(By.CSS_SELECTOR, "form.composer button[type=submit]").click()
        self.find(d, "form.card-form input[name=password]")
        self.assertIn("#/login", d.current_url)
        self.wait_text(d, "main", "Your session has expired")
        d.execute_script("window.fetch = window.__realFetch")
        form = d.find_element(By.CSS_SELECTOR, "form.card-form")
        self.fill(form, "username", user["username"])
        self.fill(form, "password", "another-secret-77")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        box = self.find(d, "form.composer textarea")
        self.assertEqual(box.get_attribute("value"), "A half-written thought")
        self.assertEqual(d.execute_script("return location.hash"), "#/")
