"""What /static/passkeys.js tells a person when a passkey check does not go through, in the
page's language (the passkey_status macro in web/templates/_forms.html carries the messages):
a German browser whose authenticator holds no passkey, then one whose address has started too
many checks (FRONTDESK_PASSKEY_CHALLENGE_RATE_PER_ADDRESS, 30 a minute by default), where the
server's own refusal is shown. A module of its own: its server's limit is used up here."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.test_passkeys import virtual_authenticator
from tests.e2e.conftest import Server


@pytest.fixture
def german(browser_contexts: Callable[..., BrowserContext]) -> Page:
    return browser_contexts("de-DE").new_page()


def test_no_passkey_on_the_device_is_said_in_german(german: Page, server: Server) -> None:
    virtual_authenticator(german)  # an authenticator with no passkey on it
    german.goto(server.base + "/login")
    german.get_by_role("button", name="Mit einem Passkey anmelden").click()
    expect(german.locator("#passkey-login [data-passkey-status]")).to_have_text(
        "Es wurde kein Passkey verwendet (abgebrochen oder zu lange gewartet)."
    )


def test_too_many_checks_from_one_address_are_refused_in_german(german: Page, server: Server) -> None:
    virtual_authenticator(german)
    german.goto(server.base + "/login")
    # Checks started as the page's script starts them, until the server refuses one.
    statuses = german.evaluate(
        """async () => {
            const form = document.getElementById("passkey-login");
            const token = form.elements.csrf_token.value;
            const statuses = [];
            for (let i = 0; i < 40; i++) {
                const body = new URLSearchParams({csrf_token: token, purpose: "login"});
                const answer = await fetch("/login/passkey/options", {method: "POST", body: body});
                statuses.push(answer.status);
                if (answer.status !== 200) break;
            }
            return statuses;
        }"""
    )
    assert statuses[-1] == 429, statuses
    german.get_by_role("button", name="Mit einem Passkey anmelden").click()
    expect(german.locator("#passkey-login [data-passkey-status]")).to_have_text(
        "Zu viele Passkey-Prüfungen von Ihrer Adresse. Versuchen Sie es in einer Minute erneut."
    )
