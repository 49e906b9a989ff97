"""/account/apps (which apps hold access, one-click revoke) and /account/activity."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from frontdesk import events
from frontdesk.services import audit, spaces
from frontdesk.store.models import AuditEvent, Consent
from frontdesk.store.types import utcnow
from tests.oauth_support import (
    TOKEN_URL,
    RegisteredApp,
    authorize_params,
    exchange,
    get_code,
    make_user,
    register_app,
)
from tests.support import PASSWORD, Browser, csrf_from

CONSENT_FORM = 'action="/oauth/authorize"'


@pytest.fixture
async def dev(state: Any, db: Any) -> Any:
    return await make_user(state, db, "dev@example.com", name="Dana Developer")


@pytest.fixture
async def code_app(state: Any, db: Any, dev: Any) -> RegisteredApp:
    return await register_app(state, db, dev, name="Calendar Sync", main_url="https://calendar.example")


@pytest.fixture
async def password_app(state: Any, db: Any, dev: Any) -> RegisteredApp:
    return await register_app(state, db, dev, name="Door Opener", scopes="read_user")


@pytest.fixture
async def pat(state: Any, db: Any) -> Any:
    return await make_user(state, db, "pat@example.com", name="Pat Person")


@pytest.fixture
async def sam(state: Any, db: Any) -> Any:
    return await make_user(state, db, "sam@example.com", name="Sam Someone")


@pytest.fixture
async def logged_in(browser: Browser, pat: Any) -> Browser:
    assert (await browser.login("pat@example.com")).status_code == 303
    return browser


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def code_flow(browser: Browser, app: RegisteredApp) -> str:
    response = await exchange(browser, app, await get_code(browser, app))
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def password_flow(browser: Browser, app: RegisteredApp, email: str = "pat@example.com") -> str:
    response = await browser.post(
        TOKEN_URL,
        data={
            "grant_type": "password",
            "username": email,
            "password": PASSWORD,
            "client_id": app.client_id,
            "client_secret": app.client_secret or "",
        },
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def app_row(html: str, client_id: str) -> str | None:
    match = re.search(rf'<tr id="app-{client_id}">(.*?)</tr>', html, re.S)
    return match.group(1) if match else None


async def revoke(browser: Browser, client_id: str, page: str = "/account/apps") -> Any:
    token = csrf_from((await browser.get(page)).text)
    return await browser.post(f"/account/apps/{client_id}/revoke", data={"csrf_token": token})


async def test_lists_apps_from_code_flow_and_password_grant(
    logged_in: Browser, code_app: RegisteredApp, password_app: RegisteredApp
) -> None:
    empty = await logged_in.get("/account/apps")
    assert empty.status_code == 200 and 'id="no-apps"' in empty.text
    assert empty.headers["cache-control"] == "no-store"
    await code_flow(logged_in, code_app)
    await password_flow(logged_in, password_app)

    page = await logged_in.get("/account/apps")
    assert page.status_code == 200
    code_row = app_row(page.text, code_app.client_id)
    assert code_row is not None and "Calendar Sync" in code_row and "https://calendar.example" in code_row
    assert "<code>read_user</code>" in code_row and "<code>read_memberships</code>" in code_row
    assert "1 access token" in code_row and "may sign you in again" in code_row
    assert "UTC" in code_row and "never" in code_row  # since when; never used yet
    assert 'action="/account/apps/' + code_app.client_id + '/revoke"' in code_row
    password_row = app_row(page.text, password_app.client_id)
    assert password_row is not None and "Door Opener" in password_row
    assert "<code>read_user</code>" in password_row and "read_memberships" not in password_row
    assert "may sign you in again" not in password_row  # the password grant stores no consent
    # The nav links are there for logged-in people on the main host.
    assert 'href="/account/apps"' in page.text and 'href="/account/activity"' in page.text


async def test_last_used_is_shown_when_known(
    logged_in: Browser, code_app: RegisteredApp, db: Any, state: Any
) -> None:
    from sqlalchemy import update

    from frontdesk.store.models import AccessToken

    await code_flow(logged_in, code_app)
    used = utcnow() - timedelta(days=1)
    await db.execute(
        update(AccessToken).where(AccessToken.grant_type == "authorization_code").values(last_used_at=used)
    )
    await db.commit()
    row = app_row((await logged_in.get("/account/apps")).text, code_app.client_id)
    assert row is not None and used.strftime("%Y-%m-%d %H:%M") in row and "never" not in row


@pytest.mark.rfc("7009 2.1")
@pytest.mark.checklist(26)
async def test_revoke_stops_tokens_and_asks_again(
    logged_in: Browser, code_app: RegisteredApp, password_app: RegisteredApp, db: Any, pat: Any
) -> None:
    token = await code_flow(logged_in, code_app)
    second = await code_flow(logged_in, code_app)  # consent remembered: no page the second time
    by_password = await password_flow(logged_in, code_app)  # the same app, another grant
    other = await password_flow(logged_in, password_app)
    # A code handed out before the revocation must not become a token afterwards.
    pending = await get_code(logged_in, code_app)
    for t in (token, second, by_password, other):
        assert (await logged_in.get("/api/user", headers=bearer(t))).status_code == 200

    response = await revoke(logged_in, code_app.client_id)
    assert response.status_code == 303 and response.headers["location"] == "/account/apps"
    page = await logged_in.get("/account/apps")
    assert "Calendar Sync no longer has access to your account." in page.text
    assert app_row(page.text, code_app.client_id) is None
    assert app_row(page.text, password_app.client_id) is not None

    for t in (token, second, by_password):  # every token of the app, whatever the grant
        assert (await logged_in.get("/api/user", headers=bearer(t))).status_code == 401
    assert (await logged_in.get("/api/user", headers=bearer(other))).status_code == 200
    late = await exchange(logged_in, code_app, pending)
    assert late.status_code == 400 and late.json()["error"] == "invalid_grant"
    assert (await db.execute(select(Consent).where(Consent.app_id == code_app.client_id))).first() is None

    # The next authorization shows the consent page again.
    again = await logged_in.get("/oauth/authorize", params=authorize_params(code_app))
    assert again.status_code == 200 and CONSENT_FORM in again.text

    found = {e.event: e for e in (await audit.events_of_user(db, pat.id)).events}
    assert found[events.CONSENT_REVOKED].app_id == code_app.client_id
    revoked = found[events.TOKEN_REVOKED]
    assert revoked.app_id == code_app.client_id and revoked.detail["count"] == 3
    assert revoked.detail["by"] == "user" and len(revoked.detail["token_ids"]) == 3

    # Nothing left to revoke.
    assert (await revoke(logged_in, code_app.client_id)).status_code == 404


async def test_people_see_and_revoke_only_their_own_grants(
    logged_in: Browser, new_browser: Any, code_app: RegisteredApp, sam: Any, db: Any
) -> None:
    pat_token = await code_flow(logged_in, code_app)
    sam_browser = new_browser(client_ip="203.0.113.77")
    assert (await sam_browser.login("sam@example.com")).status_code == 303
    sam_page = await sam_browser.get("/account/apps")
    assert app_row(sam_page.text, code_app.client_id) is None and 'id="no-apps"' in sam_page.text

    # Sam cannot take back what Pat gave: the app holds nothing of Sam's.
    assert (await revoke(sam_browser, code_app.client_id)).status_code == 404
    assert (await logged_in.get("/api/user", headers=bearer(pat_token))).status_code == 200
    # An unknown app gets the same answer.
    assert (await revoke(sam_browser, "0" * 32)).status_code == 404

    # Sam's own grant, revoked by Sam, leaves Pat's alone.
    sam_token = await code_flow(sam_browser, code_app)
    assert (await revoke(sam_browser, code_app.client_id)).status_code == 303
    assert (await sam_browser.get("/api/user", headers=bearer(sam_token))).status_code == 401
    assert (await logged_in.get("/api/user", headers=bearer(pat_token))).status_code == 200
    assert app_row((await logged_in.get("/account/apps")).text, code_app.client_id) is not None


async def test_revoke_needs_the_form_token_and_a_login(
    logged_in: Browser, new_browser: Any, code_app: RegisteredApp
) -> None:
    token = await code_flow(logged_in, code_app)
    forged = await logged_in.post(f"/account/apps/{code_app.client_id}/revoke", data={"csrf_token": "x"})
    assert forged.status_code == 403
    cross = await logged_in.post(
        f"/account/apps/{code_app.client_id}/revoke",
        data={"csrf_token": csrf_from((await logged_in.get("/account/apps")).text)},
        headers={"origin": "https://evil.example"},
    )
    assert cross.status_code == 403
    assert (await logged_in.get("/api/user", headers=bearer(token))).status_code == 200

    anonymous = new_browser()
    for path in ("/account/apps", "/account/activity"):
        response = await anonymous.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")


async def test_account_pages_live_on_the_main_host_only(
    new_browser: Any, pat: Any, db: Any, state: Any
) -> None:
    await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=pat)
    await db.commit()
    there = new_browser("co-up.localhost:8000")
    assert (await there.login("pat@example.com")).status_code == 303
    assert (await there.get("/account/apps")).status_code == 404
    assert (await there.get("/account/activity")).status_code == 404
    assert 'href="/account/apps"' not in (await there.get("/")).text


async def test_space_tokens_are_mentioned_not_revoked(
    logged_in: Browser, password_app: RegisteredApp, pat: Any, db: Any, state: Any
) -> None:
    await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=pat)
    await db.commit()
    token = await password_flow(logged_in, password_app)
    made = await logged_in.post(f"/api/access_tokens/{token}/space", json={"space_id": "co-up"})
    assert made.status_code == 201
    space_token = made.json()["token"]

    row = app_row((await logged_in.get("/account/apps")).text, password_app.client_id)
    assert row is not None and "Space tokens you created in Co-Up" in row
    assert (await revoke(logged_in, password_app.client_id)).status_code == 303
    assert (await logged_in.get("/api/user", headers=bearer(token))).status_code == 401
    assert (await logged_in.get(f"/api/access_tokens/{space_token}")).status_code == 200
    # Still listed, for the space token, without a revoke button.
    row = app_row((await logged_in.get("/account/apps")).text, password_app.client_id)
    assert row is not None and "Space tokens you created in Co-Up" in row and "Revoke access" not in row


async def test_activity_page(
    logged_in: Browser, new_browser: Any, code_app: RegisteredApp, pat: Any, sam: Any, db: Any
) -> None:
    await code_flow(logged_in, code_app)
    sam_browser = new_browser()
    assert (await sam_browser.login("sam@example.com", "wrong-password-for-sam")).status_code == 401

    page = await logged_in.get("/account/activity")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    shown = re.findall(r'data-event="([^"]+)"', page.text)
    assert shown == [events.TOKEN_ISSUED, events.CONSENT_GRANTED, events.LOGIN_SUCCEEDED, events.USER_CREATED]
    assert "Calendar Sync" in page.text and "198.51.100.7" in page.text
    assert "authorization code" in page.text  # the grant type
    assert events.LOGIN_FAILED not in page.text  # Sam's, not Pat's

    # Paged, newest first.
    start = utcnow() + timedelta(minutes=1)
    for i in range(60):
        db.add(AuditEvent(event=events.LOGIN_FAILED, user_id=pat.id, created_at=start + timedelta(seconds=i)))
    await db.commit()
    first = await logged_in.get("/account/activity")
    assert re.findall(r'data-event="([^"]+)"', first.text) == [events.LOGIN_FAILED] * 50
    assert 'href="/account/activity?page=2"' in first.text and 'rel="prev"' not in first.text
    second = await logged_in.get("/account/activity?page=2")
    assert re.findall(r'data-event="([^"]+)"', second.text) == [events.LOGIN_FAILED] * 10 + [
        events.TOKEN_ISSUED,
        events.CONSENT_GRANTED,
        events.LOGIN_SUCCEEDED,
        events.USER_CREATED,
    ]
    assert 'href="/account/activity?page=1"' in second.text and 'rel="next"' not in second.text
    beyond = await logged_in.get("/account/activity?page=9")
    assert beyond.status_code == 200 and "No older activity." in beyond.text
    assert (await logged_in.get("/account/activity?page=zero")).status_code == 400


async def test_refresh_tokens_are_listed_and_revoked(
    logged_in: Browser, state: Any, db: Any, dev: Any
) -> None:
    expiring = await register_app(state, db, dev, name="Short Lived", access_token_ttl=3600)
    response = await exchange(logged_in, expiring, await get_code(logged_in, expiring))
    assert response.status_code == 200, response.text
    body = response.json()
    assert "refresh_token" in body
    row = app_row((await logged_in.get("/account/apps")).text, expiring.client_id)
    assert row is not None and "1 access token, 1 refresh token" in row

    assert (await revoke(logged_in, expiring.client_id)).status_code == 303
    assert (await logged_in.get("/api/user", headers=bearer(body["access_token"]))).status_code == 401
    refreshed = await logged_in.post(
        TOKEN_URL,
        data={
            "grant_type": "refresh_token",
            "refresh_token": body["refresh_token"],
            "client_id": expiring.client_id,
            "client_secret": expiring.client_secret or "",
        },
    )
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
    [event] = [e for e in await audit.search(db, event=events.TOKEN_REVOKED) if e.detail.get("by") == "user"]
    assert event.detail["count"] == 1 and event.detail["refresh_tokens"] == 1
