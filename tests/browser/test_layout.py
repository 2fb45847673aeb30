"""Phone- and desktop-sized windows: screenshots, and no horizontal scrolling."""

from helpers import BASE, By, BrowserTest, create_user, http, unique

ROUTES = ("#/", "#/public", "#/post/{post}", "#/user/{friend}", "#/user/{friend}/followers", "#/notifications", "#/settings")


class LayoutTest(BrowserTest):
    @classmethod
    def setUpClass(cls):
        cls.friend, friend_token = create_user(unique("friend"))
        http("PATCH", "/user/me/", {"bio": "Writes about bicycles, bread and the odd long word like Donaudampfschifffahrtsgesellschaftskapitän."}, friend_token)
        cls.me, cls.token = create_user(unique("me"))
        http("POST", f"/user/follow/{cls.friend['id']}", token=cls.token)
        http("POST", f"/user/follow/{cls.me['id']}", token=friend_token)
        texts = [
            "Morning ride along the river. The fog lifted just as the sun came through the bridges.",
            "A very long unbroken word to test wrapping: " + "supercalifragilistic" * 8,
            f"@{cls.me['username']} have you tried the new bakery on the corner? Their rye is excellent.",
            "Short one.",
        ]
        ids = []
        for t in texts:
            _, p, _ = http("POST", "/post/", {"text": t}, friend_token)
            ids.append(p["id"])
        cls.post = ids[0]
        http("POST", "/post/", {"text": "Agreed, the light was perfect this morning!", "parent_id": ids[0]}, cls.token)
        http("POST", f"/post/{ids[0]}/like/", token=cls.token)

    def check(self, width, height, mobile, label):
        d = self.driver(width=width, height=height, mobile=mobile)
        self.login(d, self.me["username"])
        self.find(d, "article.post")
        self.wait(d).until(lambda _: len(d.find_elements(By.CSS_SELECTOR, "article.post")) >= 4)
        self.no_horizontal_overflow(d)
        self.screenshot(d, f"{label}-home.png")
        for route in ROUTES[1:]:
            route = route.format(post=self.post, friend=self.friend["username"])
            d.execute_script("location.hash = arguments[0]", route)
            self.wait(d).until(lambda _: d.execute_script("return !document.querySelector('[aria-busy]') && !!document.querySelector('main h1')"))
            self.find(d, "main h1")
            self.no_horizontal_overflow(d)
            if route.startswith("#/post/"):
                self.find(d, "article.main-post")
                self.screenshot(d, f"{label}-thread.png")
            if route == f"#/user/{self.friend['username']}":
                self.find(d, "article.post")
                self.screenshot(d, f"{label}-profile.png")
        # The signup form, logged out, with its errors showing.
        d.execute_script("location.hash = '#/settings'")
        self.find(d, "main button.secondary").click()  # Log out
        self.wait_hash(d, "#/public")
        self.assertIsNone(d.execute_script("return localStorage.getItem('pamps.refresh')"))
        d.find_element(By.LINK_TEXT, "Sign up").click()
        form = self.find(d, "form.card-form")
        self.fill(form, "username", "x")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        self.find(d, "[aria-invalid=true]")
        self.no_horizontal_overflow(d)
        self.screenshot(d, f"{label}-signup-errors.png")
        self.assert_accessible_controls(d)
        return d

    def assert_accessible_controls(self, d):
        unlabelled = d.execute_script(
            """
            return [...document.querySelectorAll('input, textarea, select')]
              .filter(el => el.type !== 'hidden' && !el.labels.length && !el.getAttribute('aria-label'))
              .map(el => el.outerHTML);
            """
        )
        self.assertEqual(unlabelled, [], "inputs without a label")
        nameless = d.execute_script(
            "return [...document.querySelectorAll('button, a[href]')].filter(el => !el.textContent.trim() && !el.getAttribute('aria-label')).map(el => el.outerHTML)"
        )
        self.assertEqual(nameless, [], "buttons or links without a name")

    def test_phone_390x844(self):
        d = self.check(390, 844, True, "phone")
        self.assertEqual(d.execute_script("return innerWidth"), 390)

    def test_desktop_1280x800(self):
        d = self.check(1280, 800, False, "desktop")
        self.assertEqual(d.execute_script("return innerWidth"), 1280)
        # The dark theme, from prefers-color-scheme.
        d.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
        d.execute_script("location.hash = '#/public'")
        self.find(d, "article.post")
        bg = d.execute_script("return getComputedStyle(document.body).backgroundColor")
        self.assertEqual(bg, "rgb(17, 20, 24)")
        self.screenshot(d, "desktop-public-dark.png")

    def test_keyboard_only_sign_in_and_post(self):
        """Skip link, visible focus, and a whole login + post done with keys."""
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys
        d = self.driver()
        d.get(BASE + "/#/login")
        self.find(d, "form.card-form")
        keys = ActionChains(d)
        keys.send_keys(Keys.TAB).perform()
        active = d.switch_to.active_element
        self.assertEqual(active.text, "Skip to content")
        self.assertTrue(active.is_displayed())
        keys.send_keys(Keys.ENTER).perform()
        self.assertEqual(d.switch_to.active_element.get_attribute("id"), "main")
        ActionChains(d).send_keys(Keys.TAB).perform()
        self.assertEqual(d.switch_to.active_element.get_attribute("name"), "username")
        outline = d.execute_script("return getComputedStyle(document.activeElement).outlineStyle")
        self.assertNotEqual(outline, "none", "no visible focus on inputs")
        ActionChains(d).send_keys(self.me["username"], Keys.TAB, "correct-horse-42", Keys.ENTER).perform()
        self.wait_hash(d, "#/")
        box = self.find(d, "form.composer textarea")
        # Tab from the heading reaches the composer first.
        ActionChains(d).send_keys(Keys.TAB).perform()
        self.assertEqual(d.switch_to.active_element, box)
        ActionChains(d).send_keys("Typed without a mouse").key_down(Keys.CONTROL).send_keys(Keys.ENTER).key_up(Keys.CONTROL).perform()
        self.wait_text(d, "article.post .text", "Typed without a mouse")
