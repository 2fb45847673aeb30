"""Text and images that could mislead: bidi controls never reach the screen,
avatars load only over https from public names (and never break the CSP)."""

from helpers import BASE, By, BrowserTest, http, create_user, unique

RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: "exe.png" would read "gnp.exe"
CONTROLS = ["\u202a", "\u202b", "\u202c", "\u202d", RLO, "\u2066", "\u2067", "\u2068", "\u2069"]


class BidiTest(BrowserTest):
    def text_of(self, d, element):
        return d.execute_script("return arguments[0].textContent", element)

    def test_bidi_controls_are_dropped_from_posts_and_bios(self):
        user, token = create_user(unique("bidi"))
        status, _, _ = http("POST", "/post/", {"text": f"invoice {RLO}gnp.exe and \u2067more"}, token)
        self.assertEqual(status, 201)
        status, _, _ = http("PATCH", "/user/me/", {"bio": f"{RLO}olleh"}, token)
        self.assertEqual(status, 200)

        d = self.driver()
        d.get(f"{BASE}/#/user/{user['username']}")
        text = self.find(d, "article.post .text")
        self.wait(d).until(lambda _: "invoice" in text.text)
        shown = self.text_of(d, text)
        self.assertEqual(shown, "invoice gnp.exe and more")
        self.assertFalse(any(c in shown for c in CONTROLS), repr(shown))
        self.assertEqual(text.get_attribute("dir"), "auto")
        self.assertEqual(d.execute_script("return getComputedStyle(arguments[0]).unicodeBidi", text), "isolate")
        bio = self.find(d, ".profile .bio")
        self.assertEqual(self.text_of(d, bio), "olleh")


class AvatarTest(BrowserTest):
    def test_only_https_avatars_are_loaded_and_nothing_breaks_the_policy(self):
        plain, plain_token = create_user(unique("plain"))
        status, _, _ = http("PATCH", "/user/me/", {"avatar": "http://cdn.example.com/a.png"}, plain_token)
        self.assertEqual(status, 200)
        secure, secure_token = create_user(unique("secure"))
        status, _, _ = http("PATCH", "/user/me/", {"avatar": "https://cdn.example.com/a.png"}, secure_token)
        self.assertEqual(status, 200)
        status, _, _ = http("PATCH", "/user/me/", {"avatar": "http://127.0.0.1:8000/a.png"}, secure_token)
        self.assertEqual(status, 422, "a loopback avatar is refused")

        d = self.driver()
        d.get(f"{BASE}/#/user/{plain['username']}")
        self.find(d, ".profile .avatar.initial")
        self.assertEqual(d.find_elements(By.CSS_SELECTOR, ".profile img.avatar"), [])
        d.get(f"{BASE}/#/user/{secure['username']}")
        img = self.find(d, ".profile img.avatar")
        self.assertEqual(img.get_attribute("src"), "https://cdn.example.com/a.png")
        self.assertEqual(img.get_attribute("referrerpolicy"), "no-referrer")
