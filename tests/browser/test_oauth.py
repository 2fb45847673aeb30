"""Mastodon apps in the browser: GET /oauth/authorize sends a logged-out
person to the login form and then to the consent page; approving an
out-of-band request with PKCE shows a code that the app trades for a token;
a redirecting request returns to the app with the code and state; denial
returns access_denied; the settings list the app and revoke it."""

import base64
import hashlib
import secrets
import urllib.parse

from helpers import BASE, PASSWORD, By, BrowserTest, create_user, http, unique

OOB = "urn:ietf:wg:oauth:2.0:oob"


def register_app(redirect_uri, scopes="read write follow"):
    status, app, _ = http("POST", "/api/v1/apps", {
        "client_name": "Phanpy test", "redirect_uris": redirect_uri, "scopes": scopes,
        "website": "https://phanpy.example",
    })
    assert status == 200, (status, app)
    return app


def authorize_url(app, redirect_uri, **extra):
    query = {"response_type": "code", "client_id": app["client_id"], "redirect_uri": redirect_uri,
             "scope": "read write", **extra}
    return f"{BASE}/oauth/authorize?{urllib.parse.urlencode(query)}"


class OAuthTest(BrowserTest):
    def test_code_with_pkce_out_of_band_after_logging_in(self):
        user, _ = create_user(unique("olga"))
        app = register_app(OOB)
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        d = self.driver()
        d.get(authorize_url(app, OOB, code_challenge=challenge, code_challenge_method="S256"))
        # Logged out: the login form first, then back to the consent page.
        form = self.find(d, "form.card-form")
        self.fill(form, "username", user["username"])
        self.fill(form, "password", PASSWORD)
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        self.wait_text(d, "h1", "Authorize Phanpy test")
        scopes = [li.get_attribute("data-scope") for li in d.find_elements(By.CSS_SELECTOR, "#oauth-scopes li")]
        self.assertEqual(scopes, ["read", "write"])
        self.assertIn(f"@{user['username']}", d.find_element(By.CSS_SELECTOR, "main").text)
        self.find(d, "#oauth-approve").click()
        code = self.find(d, "#oauth-code").text
        self.assertGreater(len(code), 20)

        # The app trades it with the verifier (a wrong one fails and spends it).
        status, token, _ = http("POST", "/oauth/token", {
            "grant_type": "authorization_code", "client_id": app["client_id"], "code": code,
            "redirect_uri": OOB, "code_verifier": verifier,
        })
        self.assertEqual(status, 200, token)
        status, me, _ = http("GET", "/api/v1/accounts/verify_credentials", token=token["access_token"])
        self.assertEqual((status, me["username"]), (200, user["username"]))

        # Settings list the app; Revoke ends its token.
        self.go(d, "#/settings")
        item = self.find(d, "#authorized-apps li[data-token]")
        self.assertIn("Phanpy test", item.text)
        item.find_element(By.CSS_SELECTOR, "button").click()
        self.wait_text(d, "#authorized-apps", "No app uses your account")
        status, _, _ = http("GET", "/api/v1/accounts/verify_credentials", token=token["access_token"])
        self.assertEqual(status, 401)
        self.assert_no_alert(d)

    def test_redirects_carry_the_code_and_state_or_the_denial(self):
        _, web_token = create_user(unique("rita"))
        user = unique("rolf")
        create_user(user)
        # The app's callback: any page will do (only the URL matters); the
        # web client's, which ignores the query.
        callback = f"{BASE}/?app=callback"
        app = register_app(callback)
        d = self.driver()
        self.login(d, user)
        d.get(authorize_url(app, callback, state="s-1"))
        self.find(d, "#oauth-approve").click()
        self.wait(d).until(lambda drv: drv.current_url.startswith(callback))
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(d.current_url).query)
        self.assertEqual(query["state"], ["s-1"])
        status, token, _ = http("POST", "/oauth/token", {
            "grant_type": "authorization_code", "client_id": app["client_id"],
            "client_secret": app["client_secret"], "code": query["code"][0], "redirect_uri": callback,
        })
        self.assertEqual(status, 200, token)

        d.get(authorize_url(app, callback, state="s-2"))
        self.find(d, "#oauth-deny").click()
        self.wait(d).until(lambda drv: drv.current_url.startswith(callback))
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(d.current_url).query)
        self.assertEqual((query["error"], query["state"]), (["access_denied"], ["s-2"]))
        del web_token

    def test_an_unknown_app_is_refused_before_any_page(self):
        d = self.driver()
        d.get(f"{BASE}/oauth/authorize?response_type=code&client_id=nope&redirect_uri={OOB}")
        self.assertIn("invalid_client", d.find_element(By.TAG_NAME, "body").text)
        d.get(BASE + "/#/public")
        self.wait_text(d, "h1", "Public")
