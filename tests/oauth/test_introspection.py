"""Token introspection at POST /oauth/introspect (RFC 7662)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import httpx
import pytest

from frontdesk.services import spaces
from frontdesk.store.types import utcnow
from tests.oauth.conftest import TTL
from tests.oauth_support import TOKEN_URL, RegisteredApp, basic, exchange, get_code, register_app
from tests.support import Browser

INTROSPECT = "/oauth/introspect"
INACTIVE = {"active": False}


def creds(app: RegisteredApp) -> dict[str, str]:
    data = {"client_id": app.client_id}
    if app.client_secret:
        data["client_secret"] = app.client_secret
    return data


async def introspect(b: Browser, app: RegisteredApp, token: str, **extra: str) -> httpx.Response:
    response = await b.post(INTROSPECT, data={**creds(app), "token": token, **extra})
    if response.status_code == 200:
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["content-type"].startswith("application/json")
    return response


async def start(b: Browser, app: RegisteredApp) -> dict[str, Any]:
    response = await exchange(b, app, await get_code(b, app))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
async def resource_server(state: Any, db: Any, dev: Any) -> RegisteredApp:
    return await register_app(state, db, dev, name="Resource server", can_introspect=True)


@pytest.mark.rfc("7662 2.2")
async def test_an_app_introspects_its_own_token(
    logged_in: Browser, registered: RegisteredApp, person: Any
) -> None:
    token = (await start(logged_in, registered))["access_token"]
    before = int(utcnow().timestamp())
    body = (await introspect(logged_in, registered, token)).json()
    assert body == {
        "active": True,
        "scope": "read_user read_memberships",
        "client_id": registered.client_id,
        "sub": person.id,
        "username": "pat@example.com",
        "token_type": "bearer",
        "iat": body["iat"],
        "iss": "http://localhost:8000",
    }
    assert before - 60 <= body["iat"] <= before + 1
    # No exp for a token that never expires; no space for a user token.


@pytest.mark.rfc("7662 2.2")
async def test_expiring_and_refresh_tokens(logged_in: Browser, expiring: RegisteredApp, state: Any) -> None:
    family = await start(logged_in, expiring)
    access = (await introspect(logged_in, expiring, family["access_token"])).json()
    assert access["active"] is True and access["token_type"] == "bearer"
    assert abs(access["exp"] - (access["iat"] + TTL)) <= 2
    refresh = (
        await introspect(logged_in, expiring, family["refresh_token"], token_type_hint="refresh_token")
    ).json()
    assert refresh["active"] is True and refresh["token_type"] == "refresh_token"
    assert refresh["scope"] == "read_user read_memberships" and refresh["client_id"] == expiring.client_id
    assert abs(refresh["exp"] - (refresh["iat"] + int(timedelta(days=30).total_seconds()))) <= 2
    # Without a hint (or a wrong one) the refresh token is found as well.
    no_hint = await introspect(logged_in, expiring, family["refresh_token"])
    assert no_hint.json()["token_type"] == "refresh_token"
    wrong_hint = await introspect(
        logged_in, expiring, family["refresh_token"], token_type_hint="access_token"
    )
    assert wrong_hint.json()["token_type"] == "refresh_token"

    # Rotated: the old refresh token is inactive, the new one active.
    renewed = await logged_in.post(
        TOKEN_URL,
        data={**creds(expiring), "grant_type": "refresh_token", "refresh_token": family["refresh_token"]},
    )
    assert (await introspect(logged_in, expiring, family["refresh_token"])).json() == INACTIVE
    assert (await introspect(logged_in, expiring, renewed.json()["refresh_token"])).json()["active"] is True

    # Expired access token: inactive.
    later = utcnow() + timedelta(seconds=TTL + 1)
    endpoint = state.oauth.introspection
    endpoint.config = dataclasses.replace(endpoint.config, clock=lambda: later)
    assert (await introspect(logged_in, expiring, renewed.json()["access_token"])).json() == INACTIVE


@pytest.mark.rfc("7662 2.2")
async def test_inactive_tokens_say_only_so(
    logged_in: Browser, registered: RegisteredApp, state: Any, db: Any, dev: Any
) -> None:
    assert (await introspect(logged_in, registered, "fdat_unknown")).json() == INACTIVE
    assert (
        await introspect(logged_in, registered, "fdrt_unknown", token_type_hint="refresh_token")
    ).json() == INACTIVE
    token = (await start(logged_in, registered))["access_token"]
    revoked = await logged_in.post("/oauth/revoke", data={**creds(registered), "token": token})
    assert revoked.status_code == 200
    assert (await introspect(logged_in, registered, token)).json() == INACTIVE


@pytest.mark.rfc("7662 2.1")
async def test_other_apps_learn_nothing(
    state: Any, db: Any, dev: Any, logged_in: Browser, registered: RegisteredApp, expiring: RegisteredApp
) -> None:
    other = await register_app(state, db, dev, name="Other")
    token = (await start(logged_in, registered))["access_token"]
    assert (await introspect(logged_in, other, token)).json() == INACTIVE
    family = await start(logged_in, expiring)
    assert (await introspect(logged_in, other, family["refresh_token"])).json() == INACTIVE


@pytest.mark.rfc("7662 2.1")
async def test_a_resource_server_introspects_any_token(
    logged_in: Browser, registered: RegisteredApp, expiring: RegisteredApp, resource_server: RegisteredApp
) -> None:
    token = (await start(logged_in, registered))["access_token"]
    body = (await introspect(logged_in, resource_server, token)).json()
    assert body["active"] is True and body["client_id"] == registered.client_id
    assert body["username"] == "pat@example.com"
    family = await start(logged_in, expiring)
    refresh = (await introspect(logged_in, resource_server, family["refresh_token"])).json()
    assert refresh["active"] is True and refresh["token_type"] == "refresh_token"
    # Still nothing about dead tokens.
    await logged_in.post("/oauth/revoke", data={**creds(registered), "token": token})
    assert (await introspect(logged_in, resource_server, token)).json() == INACTIVE


@pytest.mark.rfc("7662 2.2")
async def test_space_tokens_name_their_space(
    state: Any,
    db: Any,
    person: Any,
    logged_in: Browser,
    registered: RegisteredApp,
    resource_server: RegisteredApp,
) -> None:
    await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=person)
    await db.commit()
    user_token = (await start(logged_in, registered))["access_token"]
    made = await logged_in.post(f"/api/access_tokens/{user_token}/space", data={"space_id": "co-up"})
    assert made.status_code == 201, made.text
    body = (await introspect(logged_in, resource_server, made.json()["token"])).json()
    assert body["active"] is True and body["space"] == "co-up" and body["sub"] == person.id
    assert "space" not in (await introspect(logged_in, resource_server, user_token)).json()


@pytest.mark.rfc("7662 2.1")
async def test_client_authentication_and_request_errors(
    browser: Browser, logged_in: Browser, registered: RegisteredApp
) -> None:
    token = (await start(logged_in, registered))["access_token"]
    wrong = await browser.post(
        INTROSPECT, data={"client_id": registered.client_id, "client_secret": "fdcs_wrong", "token": token}
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert wrong.headers["cache-control"] == "no-store"
    anonymous = await browser.post(INTROSPECT, data={"token": token})
    assert anonymous.status_code == 401 and "active" not in anonymous.json()
    assert registered.client_secret
    ok = await browser.post(
        INTROSPECT, data={"token": token}, headers=basic(registered.client_id, registered.client_secret)
    )
    assert ok.status_code == 200 and ok.json()["active"] is True
    missing = await browser.post(INTROSPECT, data=creds(registered))
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    get = await browser.get(INTROSPECT)
    assert get.status_code == 405 and get.headers["allow"] == "POST"
