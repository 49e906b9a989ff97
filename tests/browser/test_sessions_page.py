"""The sessions page in the real browser: a person signed in from two browsers sees both on
``/account/sessions`` (this one marked), signs the other out, and that browser is back at the
login page."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import BrowserContext, expect

from tests.browser.support import Person, expect_after_submit, log_in, screenshot, sign_up
from tests.e2e.conftest import Server


def test_sign_out_another_session(server: Server, browser_contexts: Callable[[], BrowserContext]) -> None:
    person = Person.new("Sid")
    laptop = browser_contexts().new_page()
    sign_up(laptop, server.base, person)
    phone = browser_contexts().new_page()
    log_in(phone, server.base, person)

    laptop.goto(server.base + "/account")
    laptop.get_by_role("link", name="Sessions").click()
    expect(laptop.get_by_role("heading", name="Where you're signed in")).to_be_visible()
    rows = laptop.locator("#sessions tbody tr")
    expect(rows).to_have_count(2)
    mine = rows.filter(has_text="This device")
    expect(mine).to_have_count(1)
    screenshot(laptop, "account-sessions")

    other = rows.filter(has_not_text="This device")
    other.get_by_role("button", name="Sign out").click()
    expect_after_submit(laptop, laptop.get_by_text("The session was signed out."))
    expect(laptop.locator("#sessions tbody tr")).to_have_count(1)
    expect(laptop.locator("#this-device")).to_be_visible()

    # The other browser's next page: the login page.
    phone.goto(server.base + "/account")
    expect(phone.get_by_role("heading", name="Log in")).to_be_visible()
