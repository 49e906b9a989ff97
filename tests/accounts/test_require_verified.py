"""FRONTDESK_REQUIRE_VERIFIED_EMAIL: unverified people may log in but authorize no app until
they verify their address (the consent page says so)."""

from __future__ import annotations

from typing import Any

import pytest

from frontdesk.email_worker import EmailWorker
from frontdesk.services import accounts
from tests.accounts.conftest import deliver, follow
from tests.accounts.mailbox import Mailbox
from tests.oauth_support import authorize_params, password_grant, query, register_app
from tests.support import Browser


@pytest.fixture
def settings_overrides(mailbox: Mailbox) -> dict[str, Any]:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": mailbox.port,
        "smtp_security": "none",
        "require_verified_email": True,
    }


async def test_the_operator_can_require_a_verified_address_before_authorization(
    browser: Browser, worker: EmailWorker, mailbox: Mailbox, state: Any, db: Any
) -> None:
    await browser.signup("vera@example.com")
    assert (await browser.get("/")).status_code == 200  # unverified people can log in
    person = await accounts.find_by_email(db, "vera@example.com")
    assert person is not None
    app = await register_app(state, db, person)
    refused = await browser.get("/oauth/authorize", params=authorize_params(app))
    assert refused.status_code == 403
    assert 'id="verify-first"' in refused.text
    assert 'value="approve"' not in refused.text
    silent = await browser.get("/oauth/authorize", params=authorize_params(app, prompt="none"))
    assert silent.status_code == 302
    assert query(silent.headers["location"])["error"] == "interaction_required"
    path = await deliver(worker, mailbox, "vera@example.com")
    assert (await follow(browser, path, {})).status_code == 200
    allowed = await browser.get("/oauth/authorize", params=authorize_params(app))
    assert allowed.status_code == 200
    assert 'value="approve"' in allowed.text


async def test_the_password_grant_is_refused_until_the_address_is_verified(
    browser: Browser, worker: EmailWorker, mailbox: Mailbox, state: Any, db: Any
) -> None:
    await browser.signup("gina@example.com")
    person = await accounts.find_by_email(db, "gina@example.com")
    assert person is not None
    app = await register_app(state, db, person)
    refused = await password_grant(browser, app, username="gina@example.com")
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    assert "verify your email address" in refused.json()["error_description"]
    path = await deliver(worker, mailbox, "gina@example.com")
    assert (await follow(browser, path, {})).status_code == 200
    granted = await password_grant(browser, app, username="gina@example.com")
    assert granted.status_code == 200
