"""Throttles on the emails people ask for, the notices unverified people see, and accounts the
admin API vouches for."""

from __future__ import annotations

from typing import Any

import pytest

from frontdesk.email_worker import EmailWorker
from frontdesk.oauth.scopes import ADMIN_SCOPES
from frontdesk.services import accounts, spaces
from tests.accounts.conftest import deliver, follow
from tests.accounts.mailbox import Mailbox
from tests.oauth_support import TOKEN_URL, authorize_params, basic, make_user, register_app
from tests.support import PASSWORD, Browser

CO_UP = "co-up.localhost:8000"


@pytest.fixture
def settings_overrides(mailbox: Mailbox) -> dict[str, Any]:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": mailbox.port,
        "smtp_security": "none",
        "password_reset_rate_per_account": "2/hour",
        "password_reset_rate_per_address": "3/hour",
        "verification_email_rate_per_account": "1/hour",
    }


async def forgot(b: Browser, email: str) -> Any:
    return await b.submit("/password/forgot", {"email": email})


async def test_reset_requests_are_limited_per_address_asked_for(new_browser: Any) -> None:
    for ip, expected in [("203.0.113.1", 200), ("203.0.113.2", 200), ("203.0.113.3", 429)]:
        response = await forgot(new_browser(client_ip=ip), "Someone@example.com")
        assert response.status_code == expected
    # Known or not, the refusal reads the same.
    assert "Too many reset requests" in response.text
    assert (await forgot(new_browser(client_ip="203.0.113.4"), "other@example.com")).status_code == 200


async def test_reset_requests_are_limited_per_client_address(new_browser: Any) -> None:
    b = new_browser(client_ip="198.51.100.20")
    for i in range(3):
        assert (await forgot(b, f"person{i}@example.com")).status_code == 200
    refused = await forgot(b, "person9@example.com")
    assert refused.status_code == 429
    assert refused.headers["retry-after"].isdigit()


async def test_resending_the_verification_email_is_limited(
    browser: Browser, worker: EmailWorker, mailbox: Mailbox
) -> None:
    await browser.signup("resend@example.com")
    first = await browser.submit("/account", {}, action="/account/verification")
    assert first.status_code == 303
    second = await browser.submit("/account", {}, action="/account/verification")
    assert second.status_code == 429
    await worker.run_once()
    # The sign-up's link and the resent one both work until one of them is used.
    assert len(mailbox.to("resend@example.com")) == 2


async def test_unverified_people_see_a_notice_on_the_consent_page_and_space_admin_pages(
    browser: Browser, new_browser: Any, worker: EmailWorker, mailbox: Mailbox, state: Any, db: Any
) -> None:
    await browser.signup("nora@example.com")
    person = await accounts.find_by_email(db, "nora@example.com")
    assert person is not None
    app = await register_app(state, db, person)
    consent = await browser.get("/oauth/authorize", params=authorize_params(app))
    assert consent.status_code == 200
    assert 'id="verify-notice"' in consent.text
    await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=person)
    await db.commit()
    space = new_browser(CO_UP)
    assert (await space.login("nora@example.com")).status_code == 303
    members = await space.get("/admin/members")
    assert members.status_code == 200
    assert 'id="verify-notice"' in members.text
    path = await deliver(worker, mailbox, "nora@example.com")
    assert (await follow(browser, path, {})).status_code == 200
    assert 'id="verify-notice"' not in (await space.get("/admin/members")).text
    assert (
        'id="verify-notice"' not in (await browser.get("/oauth/authorize", params=authorize_params(app))).text
    )


async def test_the_admin_api_can_vouch_for_an_address(browser: Browser, state: Any, db: Any) -> None:
    owner = await make_user(state, db, "ops@example.com", "Ops")
    app = await register_app(
        state, db, owner, name="Platform", scopes="read_user", admin_scopes=" ".join(ADMIN_SCOPES)
    )
    assert app.client_secret is not None
    got = await browser.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials", "scope": "admin:users:write"},
        headers=basic(app.client_id, app.client_secret),
    )
    assert got.status_code == 200, got.text
    headers = {"authorization": f"Bearer {got.json()['access_token']}"}
    vouched = await browser.post(
        "/api/admin/users",
        json={"email": "vouched@example.com", "password": PASSWORD, "email_verified": True},
        headers=headers,
    )
    assert vouched.status_code == 201, vouched.text
    assert vouched.json()["email_verified"] is True
    # A new address is not vouched for.
    moved = await browser.http.patch(
        f"/api/admin/users/{vouched.json()['id']}", json={"email": "moved@example.com"}, headers=headers
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["email_verified"] is False
    plain = await browser.post("/api/admin/users", json={"email": "plain@example.com"}, headers=headers)
    assert plain.status_code == 201
    assert plain.json()["email_verified"] is False
