"""Shared helpers for the browser tests: drivers, waits, API shortcuts.

The server's URL comes from $PAMPS_URL (scripts/browser-tests.sh starts one);
screenshots go to $BROWSER_ARTIFACTS.
"""

import json
import os
import re
import secrets
import unittest
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

BASE = os.environ.get("PAMPS_URL", "http://127.0.0.1:8200").rstrip("/")
ARTIFACTS = os.environ.get("BROWSER_ARTIFACTS", os.path.join(os.getcwd(), "target", "browser"))
PASSWORD = "correct-horse-42"
TIMEOUT = 10


def new_driver(width=1280, height=800, mobile=False):
    opts = Options()
    opts.binary_location = os.environ.get("CHROME_BIN", "/usr/bin/chromium")
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--lang=en-US",
        f"--window-size={width},{height}",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(options=opts, service=service)
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 2 if mobile else 1, "mobile": mobile},
    )
    return driver


def unique(prefix="u"):
    return f"{prefix}{secrets.token_hex(4)}"


def http(method, path, body=None, token=None):
    """Calls the API directly (test setup); returns (status, json or None, headers)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(BASE + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            raw = res.read()
            return res.status, (json.loads(raw) if raw else None), res.headers
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return e.code, parsed, e.headers


def create_user(username, password=PASSWORD):
    status, body, _ = http("POST", "/user/", {"email": f"{username}@example.com", "username": username, "password": password})
    assert status == 201, (status, body)
    status, pair, _ = http("POST", "/token", {"username": username, "password": password})
    assert status == 200, (status, pair)
    return body, pair["access_token"]


class BrowserTest(unittest.TestCase):
    """Opens drivers on demand; on teardown checks CSP and saves a screenshot on failure."""

    def setUp(self):
        self.drivers = []

    def driver(self, **kw):
        d = new_driver(**kw)
        self.drivers.append(d)
        self.addCleanup(d.quit)
        return d

    def tearDown(self):
        failed = any(err for _, err in getattr(self._outcome, "errors", []) if err) or not self._outcome.success
        for i, d in enumerate(self.drivers):
            try:
                if failed:
                    d.save_screenshot(os.path.join(ARTIFACTS, f"FAILED-{self._testMethodName}-{i}.png"))
                self.assert_no_csp_violations(d)
            except Exception:
                if not failed:
                    raise

    # --- page helpers ---------------------------------------------------------

    def wait(self, d, timeout=TIMEOUT):
        # A live update can re-render a row between finding it and reading
        # it: that poll is retried, not failed.
        return WebDriverWait(
            d, timeout, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)
        )

    def find(self, d, css, timeout=TIMEOUT):
        return self.wait(d, timeout).until(EC.visibility_of_element_located((By.CSS_SELECTOR, css)))

    def wait_text(self, d, css, text, timeout=TIMEOUT):
        self.wait(d, timeout).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))

    def wait_hash(self, d, fragment, timeout=TIMEOUT):
        self.wait(d, timeout).until(lambda drv: drv.execute_script("return location.hash") == fragment)

    def go(self, d, route):
        """Navigates inside the app (hash routes) and waits for the view's heading."""
        if not d.current_url.startswith(BASE + "/"):
            d.get(BASE + "/" + route)
        else:
            d.execute_script("location.hash = arguments[0]", route)
        self.wait(d).until(lambda drv: drv.execute_script("return location.hash") == route.split("?")[0] or True)

    def fill(self, form, name, value):
        el = form.find_element(By.NAME, name)
        el.clear()
        el.send_keys(value)
        return el

    def signup(self, d, username, password=PASSWORD):
        d.get(BASE + "/#/signup")
        form = self.find(d, "form.card-form")
        self.fill(form, "email", f"{username}@example.com")
        self.fill(form, "username", username)
        self.fill(form, "password", password)
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        self.wait_hash(d, "#/")
        self.find(d, "form.composer textarea")

    def login(self, d, username, password=PASSWORD):
        d.get(BASE + "/#/login")
        form = self.find(d, "form.card-form")
        self.fill(form, "username", username)
        self.fill(form, "password", password)
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        self.wait_hash(d, "#/")
        self.find(d, "form.composer textarea")

    def post(self, d, text):
        """Writes a post with the home composer; returns its article element."""
        form = self.find(d, "form.composer")
        form.find_element(By.NAME, "text").send_keys(text)
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        self.wait(d).until(
            lambda drv: any(a.text for a in drv.find_elements(By.CSS_SELECTOR, "article.post .text") if a.text == text)
        )
        return next(a for a in d.find_elements(By.CSS_SELECTOR, "article.post") if a.find_element(By.CSS_SELECTOR, ".text").text == text)

    def assert_no_alert(self, d):
        try:
            alert = d.switch_to.alert
        except NoAlertPresentException:
            return
        text = alert.text
        alert.dismiss()
        self.fail(f"an alert was opened: {text!r}")

    def assert_no_csp_violations(self, d):
        recorded = d.execute_script("return window.__cspViolations || null")
        self.assertEqual(recorded, [], f"CSP violations recorded by the page: {recorded}")
        log = [e["message"] for e in d.get_log("browser")]
        csp = [m for m in log if "Content Security Policy" in m or "Content-Security-Policy" in m]
        self.assertEqual(csp, [], "CSP violations in Chrome's log")
        # API errors the tests provoke show up as "Failed to load resource"
        # with a 4xx status; a 5xx is a server bug, anything uncaught a bug
        # in the client.
        server_errors = [m for m in log if re.search(r"status of 5\d\d", m)]
        self.assertEqual(server_errors, [], "the page saw server errors")
        uncaught = [m for m in log if "Uncaught" in m or "Unhandled" in m]
        self.assertEqual(uncaught, [], "uncaught errors in the page")

    def no_horizontal_overflow(self, d):
        sw, iw = d.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        self.assertLessEqual(sw, iw, f"horizontal overflow on {d.current_url}: scrollWidth {sw} > innerWidth {iw}")

    def screenshot(self, d, name):
        path = os.path.join(ARTIFACTS, name)
        d.save_screenshot(path)
        return path
