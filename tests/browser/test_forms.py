"""API errors are shown at the control that caused them."""

from helpers import BASE, By, BrowserTest, create_user, unique


class SignupErrorsTest(BrowserTest):
    def test_422_messages_appear_next_to_their_fields_with_aria_invalid(self):
        d = self.driver()
        d.get(BASE + "/#/signup")
        form = self.find(d, "form.card-form")
        self.fill(form, "email", f"{unique()}@example.com")
        self.fill(form, "username", "ab")
        self.fill(form, "password", "short")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

        username = form.find_element(By.NAME, "username")
        self.wait(d).until(lambda _: username.get_attribute("aria-invalid") == "true")
        err = d.find_element(By.ID, username.get_attribute("id") + "-err")
        self.assertTrue(err.is_displayed())
        self.assertIn("username must be 3 to 32 characters", err.text)
        self.assertIn(err.get_attribute("id"), username.get_attribute("aria-describedby").split())
        # The message sits right after its own input, inside the same field.
        self.assertEqual(
            err.find_element(By.XPATH, "..").get_attribute("outerHTML"),
            username.find_element(By.XPATH, "..").get_attribute("outerHTML"),
        )

        password = form.find_element(By.NAME, "password")
        self.assertEqual(password.get_attribute("aria-invalid"), "true")
        self.assertIn("password must be 8 to 128 characters", d.find_element(By.ID, password.get_attribute("id") + "-err").text)

        email = form.find_element(By.NAME, "email")
        self.assertIsNone(email.get_attribute("aria-invalid"))
        self.assertFalse(d.find_element(By.ID, email.get_attribute("id") + "-err").is_displayed())
        # Focus moves to the first invalid field; the URL stays on the form.
        self.assertEqual(d.switch_to.active_element.get_attribute("name"), "username")
        self.assertTrue(d.current_url.endswith("#/signup"))

    def test_409_taken_username_is_shown_at_the_username_field(self):
        taken = unique("taken")
        create_user(taken)
        d = self.driver()
        d.get(BASE + "/#/signup")
        form = self.find(d, "form.card-form")
        self.fill(form, "email", f"{unique()}@example.com")
        self.fill(form, "username", taken)
        self.fill(form, "password", "correct-horse-42")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        username = form.find_element(By.NAME, "username")
        self.wait(d).until(lambda _: username.get_attribute("aria-invalid") == "true")
        self.assertIn("already registered", d.find_element(By.ID, username.get_attribute("id") + "-err").text)

    def test_wrong_password_login_shows_an_alert_in_the_form(self):
        name = unique("wrong")
        create_user(name)
        d = self.driver()
        d.get(BASE + "/#/login")
        form = self.find(d, "form.card-form")
        self.fill(form, "username", name)
        self.fill(form, "password", "not-the-password")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        alert = self.find(d, "form.card-form .form-error")
        self.assertEqual(alert.get_attribute("role"), "alert")
        self.assertIn("Incorrect username or password", alert.text)
        self.assertTrue(d.current_url.endswith("#/login"))
