"""Pictures: attach one with alt text in the composer and see it in the
timeline; upload an avatar in the settings."""

import os
import struct
import tempfile
import zlib

from helpers import By, BrowserTest, http, unique


def png_file(width=64, height=48):
    """A small gradient PNG written to a temporary file; its path."""
    raw = b"".join(b"\x00" + b"".join(bytes((x * 4 % 256, y * 5 % 256, 120)) for x in range(width)) for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    data += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    fd, path = tempfile.mkstemp(suffix=".png")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


class MediaTest(BrowserTest):
    def test_upload_a_picture_with_alt_text_and_see_it_in_the_timeline(self):
        d = self.driver()
        me = unique("pia")
        self.signup(d, me)
        path = png_file()
        self.addCleanup(os.remove, path)

        form = self.find(d, "form.composer")
        form.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(path)
        alt = self.find(d, "form.composer .picked input[type=text]")
        alt.send_keys("A gradient from green to blue")
        form.find_element(By.NAME, "text").send_keys("Look at this picture")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

        img = self.find(d, "article.post .pictures img")
        self.assertEqual(img.get_attribute("alt"), "A gradient from green to blue")
        self.assertEqual(img.get_attribute("loading"), "lazy")
        self.wait(d).until(lambda _: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img) == 64)
        self.assertEqual(form.find_elements(By.CSS_SELECTOR, ".picked li"), [])

        post_id = d.find_element(By.CSS_SELECTOR, "article.post").get_attribute("data-post-id")
        status, post, _ = http("GET", f"/post/{post_id}/")
        self.assertEqual(status, 200)
        self.assertEqual(post["text"], "Look at this picture")
        self.assertEqual([m["description"] for m in post["media"]], ["A gradient from green to blue"])
        self.assertTrue(img.get_attribute("src").endswith(post["media"][0]["preview_url"]))

    def test_upload_an_avatar_in_the_settings(self):
        d = self.driver()
        me = unique("ava")
        self.signup(d, me)
        path = png_file(200, 200)
        self.addCleanup(os.remove, path)
        d.execute_script("location.hash = arguments[0]", "#/settings")
        upload = self.find(d, "form.card-form input[type=file]")
        upload.send_keys(path)
        form = upload.find_element(By.XPATH, "./ancestor::form")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        status = form.find_element(By.CSS_SELECTOR, "p.ok")
        self.wait(d).until(lambda _: status.text == "Avatar updated." or form.find_elements(By.CSS_SELECTOR, ".error:not([hidden])"))
        self.assertEqual(status.text, "Avatar updated.")
        status, profile, _ = http("GET", f"/user/{me}/")
        self.assertEqual(status, 200)
        self.assertIn("/media/files/", profile["avatar"])
        self.assertIsNone(profile["header"])
