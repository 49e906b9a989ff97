"""Passkeys in the real browser, with Chromium's virtual authenticator (DevTools protocol
``WebAuthn``: CTAP2, internal transport, resident keys, user verification): add a passkey on
the account page, log out, log in with the password and the passkey as the second factor,
log out, and sign in with the passkey alone. /static/passkeys.js does the ceremonies."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.support import (
    Person,
    expect_after_submit,
    expect_logged_in,
    expect_logged_out,
    log_in_here,
    screenshot,
    sign_up,
)
from tests.e2e.conftest import Server


def virtual_authenticator(page: Page) -> None:
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )


def test_add_a_passkey_then_use_it_as_second_factor_and_alone(page: Page, server: Server) -> None:
    virtual_authenticator(page)
    person = Person.new("Kai")
    sign_up(page, server.base, person)
    page.goto(server.base + "/account")
    page.get_by_role("link", name="Manage passkeys").click()
    expect(page.get_by_role("heading", name="Passkeys", exact=True)).to_be_visible()
    expect(page.locator("#no-passkeys")).to_be_visible()
    page.get_by_label("Name for the passkey").fill("Test laptop")
    page.get_by_role("button", name="Add a passkey").click()
    expect_after_submit(page, page.get_by_text("Passkey added."))
    expect(page.locator("li.passkey .passkey-name")).to_have_text("Test laptop")
    screenshot(page, "passkeys-account")

    # Password, then the passkey as the second factor.
    page.get_by_role("button", name="Log out").click()
    expect_logged_out(page)
    page.goto(server.base + "/login")
    log_in_here(page, person)
    expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"^{re.escape(server.base)}/login/factor"))
    page.get_by_role("button", name="Use your passkey").click()
    expect_after_submit(page, page.get_by_role("heading", name=f"Hello, {person.name}"))
    expect_logged_in(page, person)

    # The passkey alone (discoverable, user verified), back to where the login was asked.
    page.get_by_role("button", name="Log out").click()
    expect_logged_out(page)
    page.goto(server.base + "/account/passkeys")
    expect(page).to_have_url(re.compile(rf"^{re.escape(server.base)}/login\?next="))
    screenshot(page, "passkeys-login")
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect_after_submit(page, page.get_by_role("heading", name="Passkeys", exact=True))
    expect_logged_in(page, person)
    expect(page.locator("li.passkey small")).to_contain_text("last used")
