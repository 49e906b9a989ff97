"""Expiring access tokens and rotating refresh tokens, opt-in per app (RFC 6749 §1.5, §6;
RFC 9700 §4.14; project decisions 5 and 6)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from frontdesk.oauth import pkce
from frontdesk.oauth.grants.refresh_token import REUSE_GRACE_SECONDS
from frontdesk.services import apps
from frontdesk.store.models import AccessToken, AuditEvent, RefreshToken
from frontdesk.store.types import utcnow
from tests.oauth.conftest import TTL
from tests.oauth_support import TOKEN_URL, RegisteredApp, exchange, get_code, register_app
from tests.support import PASSWORD, Browser


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def travel(state: Any, seconds: float) -> datetime:
    """Move the token endpoint's and the API's clocks ``seconds`` into the future."""
    later = utcnow() + timedelta(seconds=seconds)
    state.oauth.token.config = dataclasses.replace(state.oauth.token.config, clock=lambda: later)
    state.oauth.bearer.clock = lambda: later
    return later


async def refresh(
    client: Browser | httpx.AsyncClient, app: RegisteredApp, token: str, **extra: str
) -> httpx.Response:
    data = {"grant_type": "refresh_token", "refresh_token": token, "client_id": app.client_id, **extra}
    if app.client_secret:
        data["client_secret"] = app.client_secret
    return await client.post(TOKEN_URL, data=data)


async def api_status(b: Browser, token: str) -> int:
    return (await b.get("/api/user", headers=bearer(token))).status_code


async def start(b: Browser, app: RegisteredApp) -> dict[str, Any]:
    """Authorize ``app`` and redeem the code: the first token response of a family."""
    response = await exchange(b, app, await get_code(b, app))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.rfc("6749 5.1")
async def test_apps_that_did_not_opt_in_never_see_expiry_or_refresh_tokens(
    logged_in: Browser, registered: RegisteredApp, db: Any
) -> None:
    body = await start(logged_in, registered)
    assert set(body) == {"access_token", "token_type", "scope"}
    password = await logged_in.post(
        TOKEN_URL,
        data={
            "grant_type": "password",
            "username": "pat@example.com",
            "password": PASSWORD,
            "client_id": registered.client_id,
            "client_secret": registered.client_secret,
        },
    )
    assert set(password.json()) == {"access_token", "token_type", "scope"}
    assert (await db.execute(select(RefreshToken))).first() is None
    rows = (await db.execute(select(AccessToken.expires_at, AccessToken.family_id))).all()
    assert rows and all(expires is None and family is None for expires, family in rows)
    # An opted-in app's token is no use to it, and a made-up one neither.
    response = await refresh(logged_in, registered, "fdrt_" + "x" * 43)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


@pytest.mark.rfc("6749 1.5")
async def test_opted_in_apps_get_expiring_tokens_and_refresh_tokens(
    logged_in: Browser, expiring: RegisteredApp, db: Any, state: Any
) -> None:
    body = await start(logged_in, expiring)
    assert set(body) == {"access_token", "token_type", "scope", "expires_in", "refresh_token"}
    assert body["expires_in"] == TTL and body["token_type"] == "bearer"
    raw = body["refresh_token"]
    assert raw.startswith("fdrt_") and len(raw) == 5 + 43
    assert await api_status(logged_in, body["access_token"]) == 200

    # Stored as a digest only, in the access token's family.
    row = (await db.execute(select(RefreshToken))).scalar_one()
    access = (
        await db.execute(select(AccessToken).where(AccessToken.grant_type == "authorization_code"))
    ).scalar_one()
    assert raw not in {row.digest, row.id} and row.family_id == access.family_id is not None
    assert row.access_token_id == access.id and row.code_id == access.code_id is not None
    assert row.scope == "read_user read_memberships" and row.rotated_at is None
    # The family ends 30 days after the authorization.
    assert row.expires_at is not None
    assert abs((row.expires_at - utcnow()) - timedelta(days=30)) < timedelta(minutes=1)

    travel(state, TTL + 1)
    expired = await logged_in.get("/api/user", headers=bearer(body["access_token"]))
    assert expired.status_code == 401 and "expired" in expired.headers["www-authenticate"]
    renewed = await refresh(logged_in, expiring, raw)
    assert renewed.status_code == 200, renewed.text
    # Issued at the (moved) clock of the token endpoint's issuer: valid for the API's real clock.
    state.oauth.bearer.clock = utcnow
    assert await api_status(logged_in, renewed.json()["access_token"]) == 200


async def test_the_password_grant_starts_a_family_too(
    browser: Browser, expiring: RegisteredApp, person: Any
) -> None:
    response = await browser.post(
        TOKEN_URL,
        data={
            "grant_type": "password",
            "username": "pat@example.com",
            "password": PASSWORD,
            "client_id": expiring.client_id,
            "client_secret": expiring.client_secret,
        },
    )
    body = response.json()
    assert body["expires_in"] == TTL and body["refresh_token"].startswith("fdrt_")
    renewed = await refresh(browser, expiring, body["refresh_token"])
    assert renewed.status_code == 200 and renewed.json()["scope"] == "read_user read_memberships"


@pytest.mark.rfc("6749 6")
async def test_refresh_rotates(logged_in: Browser, expiring: RegisteredApp, db: Any) -> None:
    first = await start(logged_in, expiring)
    second = (await refresh(logged_in, expiring, first["refresh_token"])).json()
    assert set(second) == {"access_token", "token_type", "scope", "expires_in", "refresh_token"}
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["scope"] == "read_user read_memberships" and second["expires_in"] == TTL
    assert await api_status(logged_in, second["access_token"]) == 200
    third = await refresh(logged_in, expiring, second["refresh_token"])
    assert third.status_code == 200, third.text

    tokens = (await db.execute(select(RefreshToken).order_by(RefreshToken.created_at))).scalars().all()
    assert len(tokens) == 3 and len({t.family_id for t in tokens}) == 1
    assert [t.rotated_at is not None for t in tokens] == [True, True, False]
    assert len({t.expires_at for t in tokens}) == 1  # the family's end, not a sliding one
    access = (await db.execute(select(AccessToken).where(AccessToken.app_id == expiring.client_id))).scalars()
    refreshed = [a for a in access if a.grant_type == "refresh_token"]
    assert len(refreshed) == 2 and all(a.family_id == tokens[0].family_id for a in refreshed)


@pytest.mark.rfc("9700 4.14.2")
async def test_reuse_revokes_the_whole_family(
    logged_in: Browser, expiring: RegisteredApp, state: Any, db: Any
) -> None:
    first = await start(logged_in, expiring)
    second = (await refresh(logged_in, expiring, first["refresh_token"])).json()
    third = (await refresh(logged_in, expiring, second["refresh_token"])).json()
    # Unrelated: another authorization of the same app and person is another family.
    other = await start(logged_in, expiring)

    travel(state, REUSE_GRACE_SECONDS + 1)
    replay = await refresh(logged_in, expiring, first["refresh_token"])
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert "revoked" in replay.json()["error_description"]
    state.oauth.bearer.clock = utcnow
    for token in (first["access_token"], second["access_token"], third["access_token"]):
        response = await logged_in.get("/api/user", headers=bearer(token))
        assert response.status_code == 401 and 'error="invalid_token"' in response.headers["www-authenticate"]
    newest = await refresh(logged_in, expiring, third["refresh_token"])
    assert newest.status_code == 400 and newest.json()["error"] == "invalid_grant"
    assert await api_status(logged_in, other["access_token"]) == 200
    assert (await refresh(logged_in, expiring, other["refresh_token"])).status_code == 200
    events = (await db.execute(select(AuditEvent.event, AuditEvent.app_id))).all()
    assert ("refresh_token.reused", expiring.client_id) in events


@pytest.mark.rfc("9700 4.14.2")
async def test_a_token_presented_again_at_once_is_refused_without_revoking(
    logged_in: Browser, expiring: RegisteredApp
) -> None:
    """The grace window: two refreshes of one app racing must not log the person out."""
    first = await start(logged_in, expiring)
    second = (await refresh(logged_in, expiring, first["refresh_token"])).json()
    again = await refresh(logged_in, expiring, first["refresh_token"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert "just used" in again.json()["error_description"]
    assert await api_status(logged_in, second["access_token"]) == 200
    assert (await refresh(logged_in, expiring, second["refresh_token"])).status_code == 200


@pytest.mark.rfc("6749 6")
async def test_scope_may_narrow_but_not_widen(state: Any, db: Any, dev: Any, logged_in: Browser) -> None:
    app = await register_app(
        state, db, dev, scopes="read_user read_memberships navigation", access_token_ttl=TTL
    )
    first = await exchange(logged_in, app, await get_code(logged_in, app, scope="read_user read_memberships"))
    token = first.json()["refresh_token"]
    wider = await refresh(logged_in, app, token, scope="read_user navigation")
    assert wider.status_code == 400 and wider.json()["error"] == "invalid_scope"
    unknown = await refresh(logged_in, app, token, scope="bogus")
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_scope"
    # A refused request does not burn the token.
    narrow = await refresh(logged_in, app, token, scope="read_user")
    assert narrow.status_code == 200 and narrow.json()["scope"] == "read_user"
    held = await logged_in.get(f"/api/access_tokens/{narrow.json()['access_token']}")
    assert held.json() == {"scope": ["read_user"]}
    # The new refresh token still carries the whole grant.
    full = await refresh(logged_in, app, narrow.json()["refresh_token"])
    assert full.status_code == 200 and full.json()["scope"] == "read_user read_memberships"


@pytest.mark.rfc("6749 6")
async def test_concurrent_refreshes_yield_one_token(
    logged_in: Browser, expiring: RegisteredApp, new_browser: Any, db: Any
) -> None:
    first = await start(logged_in, expiring)
    clients = [new_browser() for _ in range(6)]
    responses = await asyncio.gather(*(refresh(c, expiring, first["refresh_token"]) for c in clients))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 400, 400, 400, 400, 400], [r.text for r in responses]
    assert all(r.json()["error"] == "invalid_grant" for r in responses if r.status_code == 400)
    winner = next(r.json() for r in responses if r.status_code == 200)
    issued = (
        await db.execute(select(AccessToken).where(AccessToken.grant_type == "refresh_token"))
    ).scalars()
    assert len(list(issued)) == 1
    assert len((await db.execute(select(RefreshToken))).scalars().all()) == 2
    # Within the grace window the losers did not revoke the winner's tokens.
    assert await api_status(logged_in, winner["access_token"]) == 200
    assert (await refresh(logged_in, expiring, winner["refresh_token"])).status_code == 200


@pytest.mark.rfc("6749 6")
async def test_refresh_token_bound_to_its_client(
    state: Any, db: Any, dev: Any, logged_in: Browser, expiring: RegisteredApp
) -> None:
    other = await register_app(state, db, dev, name="Other", access_token_ttl=TTL)
    first = await start(logged_in, expiring)
    stolen = await refresh(logged_in, other, first["refresh_token"])
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    # Untouched: its own app can still use it.
    assert (await refresh(logged_in, expiring, first["refresh_token"])).status_code == 200
    wrong_secret = await logged_in.post(
        TOKEN_URL,
        data={
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": expiring.client_id,
            "client_secret": "fdcs_wrong",
        },
    )
    assert wrong_secret.status_code == 401 and wrong_secret.json()["error"] == "invalid_client"


async def test_public_clients_refresh_with_their_client_id(
    state: Any, db: Any, dev: Any, logged_in: Browser, expiring: RegisteredApp
) -> None:
    spa = await register_app(state, db, dev, name="SPA", public=True, access_token_ttl=TTL)
    verifier = "s" * 50
    code = await get_code(logged_in, spa, code_challenge=pkce.s256(verifier), code_challenge_method="S256")
    body = (await exchange(logged_in, spa, code, code_verifier=verifier)).json()
    assert body["refresh_token"].startswith("fdrt_")
    renewed = await refresh(logged_in, spa, body["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    # A public client cannot use a confidential app's refresh token, nor the reverse.
    confidential = await start(logged_in, expiring)
    assert (await refresh(logged_in, spa, confidential["refresh_token"])).json()["error"] == "invalid_grant"
    stolen = await refresh(logged_in, expiring, renewed.json()["refresh_token"])
    assert stolen.json()["error"] == "invalid_grant"
    assert (await refresh(logged_in, spa, renewed.json()["refresh_token"])).status_code == 200


@pytest.mark.rfc("6749 4.1.2")
async def test_code_replay_revokes_the_refresh_tokens_too(
    logged_in: Browser, expiring: RegisteredApp
) -> None:
    code = await get_code(logged_in, expiring)
    first = (await exchange(logged_in, expiring, code)).json()
    second = (await refresh(logged_in, expiring, first["refresh_token"])).json()
    replay = await exchange(logged_in, expiring, code)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert await api_status(logged_in, first["access_token"]) == 401
    assert await api_status(logged_in, second["access_token"]) == 401
    again = await refresh(logged_in, expiring, second["refresh_token"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


@pytest.mark.rfc("6749 6")
async def test_request_errors(browser: Browser, expiring: RegisteredApp) -> None:
    creds = {"client_id": expiring.client_id, "client_secret": expiring.client_secret or ""}
    missing = await browser.post(TOKEN_URL, data={**creds, "grant_type": "refresh_token"})
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    assert missing.headers["cache-control"] == "no-store"
    unknown = await refresh(browser, expiring, "fdrt_unknown")
    assert unknown.status_code == 400 and unknown.json() == {
        "error": "invalid_grant",
        "error_description": "unknown refresh token",
    }


async def test_families_end_after_thirty_days(
    logged_in: Browser, expiring: RegisteredApp, state: Any
) -> None:
    first = await start(logged_in, expiring)
    travel(state, timedelta(days=30, minutes=1).total_seconds())
    late = await refresh(logged_in, expiring, first["refresh_token"])
    assert late.status_code == 400 and late.json()["error_description"] == "the refresh token expired"


async def test_an_app_that_stops_expiring_tokens_ends_its_families(
    logged_in: Browser, expiring: RegisteredApp, db: Any
) -> None:
    first = await start(logged_in, expiring)
    app = await apps.get_app(db, expiring.client_id)
    assert app is not None
    await apps.update_app(db, app.client_id, access_token_ttl=None)
    await db.commit()
    last = await refresh(logged_in, expiring, first["refresh_token"])
    assert last.status_code == 200
    assert set(last.json()) == {"access_token", "token_type", "scope"}
    assert await api_status(logged_in, last.json()["access_token"]) == 200


async def test_refresh_at_the_issuer_or_the_main_host_only(
    state: Any, db: Any, person: Any, expiring: RegisteredApp, new_browser: Any
) -> None:
    from frontdesk.services import spaces

    await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=person)
    await db.commit()
    await spaces.create_space(db, state.settings, subdomain="other", name="Other", owner=person)
    await db.commit()
    b: Browser = new_browser("co-up.localhost:8000")
    await b.login("pat@example.com")
    body = await start(b, expiring)
    other_host = await refresh(new_browser("other.localhost:8000"), expiring, body["refresh_token"])
    assert other_host.status_code == 400 and other_host.json()["error"] == "invalid_grant"
    main = await refresh(new_browser(), expiring, body["refresh_token"])
    assert main.status_code == 200, main.text
    own = await refresh(b, expiring, main.json()["refresh_token"])
    assert own.status_code == 200, own.text
