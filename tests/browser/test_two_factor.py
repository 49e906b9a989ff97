"""Two-step login in the real browser: set up an authenticator app on the account page (the
QR code is drawn inline), keep the recovery codes, log out, and log in again with the
password and a code computed by pyotp, as a phone's app would."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pyotp
from playwright.sync_api import Page, expect

from tests.browser.support import (
    Person,
    expect_after_submit,
    expect_logged_in,
    log_in_here,
    screenshot,
    sign_up,
)
from tests.e2e.conftest import Server


def code_in(secret: str, steps: int) -> str:
    return pyotp.TOTP(secret).at(datetime.now(UTC) + timedelta(seconds=30 * steps))


def test_set_up_an_authenticator_app_and_log_in_with_a_code(page: Page, server: Server) -> None:
    person = Person.new("Tia")
    sign_up(page, server.base, person)
    page.goto(server.base + "/account")
    page.get_by_role("link", name="Two-step login settings").click()
    expect(page.get_by_role("heading", name="Two-step login", exact=True)).to_be_visible()
    page.get_by_role("button", name="Set up an authenticator app").click()

    expect_after_submit(page, page.get_by_role("heading", name="Set up your authenticator app"))
    expect(page.locator("#totp-qr svg")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text().strip()
    screenshot(page, "two-factor-set-up")
    page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on").click()

    expect_after_submit(page, page.get_by_role("heading", name="Two-step login is on"))
    codes = page.locator("#recovery-code-list li")
    expect(codes).to_have_count(10)
    screenshot(page, "two-factor-recovery-codes")

    page.get_by_role("button", name="Log out").click()
    page.goto(server.base + "/login")
    log_in_here(page, person)
    # The password alone is not enough: the factor page asks for the app's code.
    expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"^{re.escape(server.base)}/login/factor"))
    screenshot(page, "two-factor-login")
    page.get_by_label("Code from your authenticator app").fill(code_in(secret, 1))
    page.get_by_role("button", name="Confirm", exact=True).click()
    expect_after_submit(page, page.get_by_role("heading", name=f"Hello, {person.name}"))
    expect_logged_in(page, person)
