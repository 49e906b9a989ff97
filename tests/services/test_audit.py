"""The audit log: every security-relevant action leaves an event, and no event holds a secret."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, text

import frontdesk.oauth
from frontdesk import events
from frontdesk.services import audit, spaces
from frontdesk.store.audit_storage import record_event
from frontdesk.store.models import AccessToken, AuditEvent
from frontdesk.store.sql_storage import SqlStorage
from frontdesk.store.types import utcnow
from tests.oauth_support import (
    TOKEN_URL,
    RegisteredApp,
    authorize_params,
    consent,
    exchange,
    get_code,
    make_user,
    register_app,
)
from tests.support import PASSWORD, Browser, csrf_from

WRONG_PASSWORD = "not-the-password-0123456789"


async def logged(db: Any, name: str | None = None) -> list[AuditEvent]:
    stmt = select(AuditEvent).order_by(AuditEvent.created_at).execution_options(populate_existing=True)
    if name is not None:
        stmt = stmt.where(AuditEvent.event == name)
    return list((await db.execute(stmt)).scalars())


async def raw_audit_table(db: Any) -> str:
    """Everything stored in the audit table, as text, straight from SQL."""
    rows = (await db.execute(text("SELECT * FROM audit_events"))).all()
    return "\n".join(repr(tuple(row)) for row in rows)


@pytest.fixture
async def dev(state: Any, db: Any) -> Any:
    return await make_user(state, db, "dev@example.com", name="Dana Developer")


@pytest.fixture
async def registered(state: Any, db: Any, dev: Any) -> RegisteredApp:
    return await register_app(state, db, dev)


@pytest.fixture
async def person(state: Any, db: Any) -> Any:
    return await make_user(state, db, "pat@example.com", name="Pat Person")


async def password_grant(browser: Browser, app: RegisteredApp, username: str, password: str) -> Any:
    return await browser.post(
        TOKEN_URL,
        data={
            "grant_type": "password",
            "username": username,
            "password": password,
            "client_id": app.client_id,
            "client_secret": app.client_secret or "",
        },
    )


# ---- the service itself ----------------------------------------------------------------------


async def test_record_refuses_secrets(db: Any) -> None:
    for detail in (
        {"access_token": "x"},
        {"code": "x"},
        {"client_secret": "x"},
        {"password": "x"},
        {"token_id": "fdat_abc"},
        {"nested": {"value": "fdcs_abc"}},
    ):
        with pytest.raises(ValueError):
            await record_event(db, events.TOKEN_ISSUED, detail=detail)
    await record_event(db, events.TOKEN_ISSUED, ip="203.0.113.9" * 10, detail={"token_id": "a" * 32})
    await db.commit()
    [row] = await logged(db)
    assert row.detail == {"token_id": "a" * 32} and len(row.ip) == 45 and row.user_id is None


async def test_events_of_user_pages_newest_first(db: Any, state: Any, person: Any, dev: Any) -> None:
    await db.execute(delete(AuditEvent))  # not the accounts' user.created events
    start = utcnow()
    for i in range(7):
        db.add(
            AuditEvent(
                event=events.LOGIN_SUCCEEDED, user_id=person.id, created_at=start + timedelta(seconds=i)
            )
        )
    db.add(AuditEvent(event=events.LOGIN_SUCCEEDED, user_id=dev.id, created_at=start))
    await db.commit()
    first = await audit.events_of_user(db, person.id, per_page=3)
    assert [e.created_at for e in first.events] == [start + timedelta(seconds=s) for s in (6, 5, 4)]
    assert first.has_next and not first.has_previous
    last = await audit.events_of_user(db, person.id, page=3, per_page=3)
    assert len(last.events) == 1 and not last.has_next and last.has_previous
    assert all(e.user_email == "pat@example.com" for e in first.events + last.events)
    assert (await audit.events_of_user(db, person.id, page=4, per_page=3)).events == []


def test_parse_since() -> None:
    now = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
    assert audit.parse_since("1h", now=now) == now - timedelta(hours=1)
    assert audit.parse_since("30m", now=now) == now - timedelta(minutes=30)
    assert audit.parse_since("7d", now=now) == now - timedelta(days=7)
    assert audit.parse_since("2w", now=now) == now - timedelta(weeks=2)
    assert audit.parse_since("2024-05-01T12:00") == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert audit.parse_since("2024-05-01T14:00+02:00") == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert audit.parse_since("2024-05-01T12:00:00Z") == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert audit.parse_since("2024-05-01") == datetime(2024, 5, 1, tzinfo=UTC)
    for bad in ("yesterday", "1y", "", "-1h"):
        with pytest.raises(ValueError):
            audit.parse_since(bad)


# ---- events recorded by the application --------------------------------------------------------


async def test_login_events(browser: Browser, new_browser: Any, db: Any, person: Any, state: Any) -> None:
    assert (await browser.login("pat@example.com", WRONG_PASSWORD)).status_code == 401
    # Someone typing a password into the email field: the text is never stored.
    assert (await browser.login(WRONG_PASSWORD + "@nobody.example", WRONG_PASSWORD)).status_code == 401
    assert (await browser.login("pat@example.com")).status_code == 303
    space = await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=person)
    await db.commit()
    there = new_browser("co-up.localhost:8000", client_ip="203.0.113.50")
    assert (await there.login("pat@example.com")).status_code == 303

    failed = await logged(db, events.LOGIN_FAILED)
    assert [e.user_id for e in failed] == [person.id, None]
    assert all(e.ip == "198.51.100.7" and e.detail == {} and e.space_id is None for e in failed)
    ok = await logged(db, events.LOGIN_SUCCEEDED)
    assert [(e.user_id, e.space_id, e.ip) for e in ok] == [
        (person.id, None, "198.51.100.7"),
        (person.id, space.id, "203.0.113.50"),
    ]
    stored = await raw_audit_table(db)
    assert WRONG_PASSWORD not in stored and PASSWORD not in stored and "nobody.example" not in stored


async def test_oauth_events_hold_ids_never_secrets(
    browser: Browser, db: Any, state: Any, dev: Any, person: Any, registered: RegisteredApp
) -> None:
    """Consent, code and password grants, code replay, the API's revocation and space tokens."""
    secrets_seen: list[str] = [PASSWORD, WRONG_PASSWORD, registered.test_token]
    assert registered.client_secret
    secrets_seen.append(registered.client_secret)
    assert (await browser.login("pat@example.com")).status_code == 303

    # Consent (explicit approval) and the code grant.
    code = await get_code(browser, registered)
    secrets_seen.append(code)
    response = await exchange(browser, registered, code)
    assert response.status_code == 200, response.text
    code_token = response.json()["access_token"]
    secrets_seen.append(code_token)
    [granted] = await logged(db, events.CONSENT_GRANTED)
    assert (granted.user_id, granted.app_id) == (person.id, registered.client_id)
    assert granted.detail == {"scope": "read_user read_memberships"} and granted.ip == "198.51.100.7"
    [issued] = await logged(db, events.TOKEN_ISSUED)
    token_row = (await db.execute(select(AccessToken).where(AccessToken.code_id.is_not(None)))).scalar_one()
    assert (issued.user_id, issued.app_id) == (person.id, registered.client_id)
    assert issued.detail == {"token_id": token_row.id, "grant_type": "authorization_code"}

    # Silent re-approval (consent remembered) issues a code without a new consent event.
    silent = await browser.get("/oauth/authorize", params=authorize_params(registered))
    assert silent.status_code == 302 and "code=" in silent.headers["location"]
    secrets_seen.append(silent.headers["location"].split("code=", 1)[1].split("&", 1)[0])
    assert len(await logged(db, events.CONSENT_GRANTED)) == 1

    # Replaying the first code revokes its token and says so.
    replay = await exchange(browser, registered, code)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    [replayed] = await logged(db, events.CODE_REPLAYED)
    assert replayed.app_id == registered.client_id
    assert replayed.detail == {"code_id": token_row.code_id, "revoked_tokens": 1}
    assert (
        await browser.get("/api/user", headers={"authorization": f"Bearer {code_token}"})
    ).status_code == 401

    # The password grant (a failed attempt is not a token event).
    assert (await password_grant(browser, registered, "pat@example.com", WRONG_PASSWORD)).status_code == 400
    response = await password_grant(browser, registered, "pat@example.com", PASSWORD)
    assert response.status_code == 200, response.text
    password_token = response.json()["access_token"]
    secrets_seen.append(password_token)
    issued_events = await logged(db, events.TOKEN_ISSUED)
    assert [e.detail["grant_type"] for e in issued_events] == ["authorization_code", "password"]
    info = await state.oauth.bearer.validate(password_token, SqlStorage(db, state.server_secret))
    assert issued_events[1].detail["token_id"] == info.id and issued_events[1].user_id == person.id

    # A space token (the person administers a space) and revoking through the API.
    space = await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=person)
    await db.commit()
    made = await browser.post(f"/api/access_tokens/{password_token}/space", json={"space_id": "co-up"})
    assert made.status_code == 201
    secrets_seen.append(made.json()["token"])
    space_issued = (await logged(db, events.TOKEN_ISSUED))[-1]
    assert space_issued.space_id == space.id and space_issued.detail["grant_type"] == "space"
    assert (await browser.delete(f"/api/access_tokens/{password_token}")).status_code == 204
    [revoked] = await logged(db, events.TOKEN_REVOKED)
    assert revoked.detail == {"token_id": info.id, "via": "api"} and revoked.user_id == person.id

    stored = await raw_audit_table(db)
    for secret in secrets_seen:
        assert secret not in stored
    assert "fdat_" not in stored and "fdac_" not in stored and "fdcs_" not in stored


async def test_app_owner_events(browser: Browser, db: Any) -> None:
    """Regenerating the client secret, creating and revoking the test token (on the app page)."""
    await browser.signup("dev@example.com", name="Dev")
    token = await browser.token("/oauth2_clients/new")
    created = await browser.post(
        "/oauth2_clients/new",
        data={
            "name": "Mine",
            "redirect_uris": "https://example.com/cb",
            "scope": ["read_user"],
            "password_grant": "1",
            "csrf_token": token,
        },
    )
    assert created.status_code == 303
    url = created.headers["location"]
    first_view = (await browser.get(url)).text  # shows the first secret and test token once
    client_id = url.rsplit("/", 1)[1]
    page = await browser.get(url)
    for action, data in (
        ("secret", {"confirm": "1"}),
        ("test_token", {"action": "create"}),
        ("test_token", {"action": "revoke"}),
        ("test_token", {"action": "revoke"}),  # nothing left to revoke: no event
    ):
        response = await browser.post(f"{url}/{action}", data={**data, "csrf_token": csrf_from(page.text)})
        assert response.status_code == 303
        page = await browser.get(url)
    names = [e.event for e in await logged(db) if e.app_id == client_id]
    assert names == [
        events.APP_CREATED,
        events.CLIENT_SECRET_REGENERATED,
        events.TEST_TOKEN_CREATED,
        events.TEST_TOKEN_REVOKED,
    ]
    stored = await raw_audit_table(db)
    shown = [v for v in first_view.split(">") if v.startswith(("fdcs_", "fdat_"))]
    assert shown and all(value.split("<", 1)[0] not in stored for value in shown)


async def test_consent_deny_records_nothing(
    browser: Browser, db: Any, person: Any, registered: RegisteredApp
) -> None:
    assert (await browser.login("pat@example.com")).status_code == 303
    denied = await consent(browser, registered, decision="deny")
    assert denied.status_code == 303 and "error=access_denied" in denied.headers["location"]
    assert await logged(db, events.CONSENT_GRANTED) == []


def test_event_names_are_distinct_and_fit() -> None:
    assert len(set(events.EVENTS)) == len(events.EVENTS)
    assert all(len(name) <= 50 and name in events.DESCRIPTIONS for name in events.EVENTS)
    # The protocol core records events by name (a literal or a frontdesk.events constant),
    # without importing the service: every name it uses is one of these.
    core = Path(frontdesk.oauth.__file__).parent
    used = set()
    for path in core.rglob("*.py"):
        for literal, constant in re.findall(
            r'record_event\(\s*(?:"([^"]+)"|events\.([A-Z_]+)\b)', path.read_text()
        ):
            used.add(literal or getattr(events, constant))
    assert {"token.issued", "code.replayed"} <= used and used <= set(events.EVENTS)


async def test_event_rows_render_as_json(db: Any, person: Any) -> None:
    await record_event(db, events.LOGIN_SUCCEEDED, user_id=person.id, ip="198.51.100.7")
    await db.commit()
    [row] = await audit.search(db, user_email="PAT@example.com", event=events.LOGIN_SUCCEEDED)
    data = row.as_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["user_email"] == "pat@example.com" and data["event"] == "login.succeeded"
    assert await audit.search(db, user_email="nobody@example.com") == []
