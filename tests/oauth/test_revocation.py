"""Token revocation at POST /oauth/revoke (RFC 7009)."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from frontdesk.oauth import pkce
from frontdesk.store.models import AuditEvent
from tests.oauth.conftest import TTL
from tests.oauth_support import TOKEN_URL, RegisteredApp, basic, exchange, get_code, register_app
from tests.support import Browser

REVOKE = "/oauth/revoke"


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def creds(app: RegisteredApp) -> dict[str, str]:
    data = {"client_id": app.client_id}
    if app.client_secret:
        data["client_secret"] = app.client_secret
    return data


async def revoke(b: Browser, app: RegisteredApp, token: str, **extra: str) -> httpx.Response:
    return await b.post(REVOKE, data={**creds(app), "token": token, **extra})


async def refresh(b: Browser, app: RegisteredApp, token: str) -> httpx.Response:
    return await b.post(TOKEN_URL, data={**creds(app), "grant_type": "refresh_token", "refresh_token": token})


async def api_status(b: Browser, token: str) -> int:
    return (await b.get("/api/user", headers=bearer(token))).status_code


def assert_ok(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    assert response.content == b""
    assert response.headers["cache-control"] == "no-store"


async def start(b: Browser, app: RegisteredApp) -> dict[str, Any]:
    response = await exchange(b, app, await get_code(b, app))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.rfc("7009 2.1")
@pytest.mark.checklist(26)
async def test_revoke_an_access_token(logged_in: Browser, registered: RegisteredApp, db: Any) -> None:
    token = (await start(logged_in, registered))["access_token"]
    other = (await start(logged_in, registered))["access_token"]
    assert await api_status(logged_in, token) == 200
    assert_ok(await revoke(logged_in, registered, token))
    response = await logged_in.get("/api/user", headers=bearer(token))
    assert response.status_code == 401 and 'error="invalid_token"' in response.headers["www-authenticate"]
    assert await api_status(logged_in, other) == 200  # one token, not the app's others
    # Already revoked: 200 all the same (§2.2).
    assert_ok(await revoke(logged_in, registered, token))
    events = (await db.execute(select(AuditEvent.event, AuditEvent.detail))).all()
    assert [d["via"] for e, d in events if e == "token.revoked"] == ["revocation"]


@pytest.mark.rfc("7009 2.2")
@pytest.mark.checklist(26)
async def test_unknown_tokens_get_200(browser: Browser, registered: RegisteredApp) -> None:
    assert_ok(await revoke(browser, registered, "fdat_nothing"))
    assert_ok(await revoke(browser, registered, "fdat_" + secrets.token_urlsafe(32)))
    assert_ok(await revoke(browser, registered, "garbage"))
    assert_ok(await revoke(browser, registered, "fdrt_nothing", token_type_hint="refresh_token"))
    assert_ok(await revoke(browser, registered, "whatever", token_type_hint="access_token"))


@pytest.mark.rfc("7009 2.1")
async def test_only_the_owning_app_revokes(
    state: Any, db: Any, dev: Any, logged_in: Browser, registered: RegisteredApp, expiring: RegisteredApp
) -> None:
    other = await register_app(state, db, dev, name="Other")
    token = (await start(logged_in, registered))["access_token"]
    assert_ok(await revoke(logged_in, other, token))
    assert await api_status(logged_in, token) == 200
    family = await start(logged_in, expiring)
    assert_ok(await revoke(logged_in, other, family["refresh_token"], token_type_hint="refresh_token"))
    assert_ok(await revoke(logged_in, other, family["access_token"]))
    assert await api_status(logged_in, family["access_token"]) == 200
    assert (await refresh(logged_in, expiring, family["refresh_token"])).status_code == 200


@pytest.mark.rfc("7009 2.1")
async def test_revoking_a_refresh_token_revokes_its_family(
    logged_in: Browser, expiring: RegisteredApp
) -> None:
    first = await start(logged_in, expiring)
    second = (await refresh(logged_in, expiring, first["refresh_token"])).json()
    assert_ok(await revoke(logged_in, expiring, second["refresh_token"], token_type_hint="refresh_token"))
    assert await api_status(logged_in, first["access_token"]) == 401
    assert await api_status(logged_in, second["access_token"]) == 401
    refused = await refresh(logged_in, expiring, second["refresh_token"])
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


@pytest.mark.rfc("7009 2.1")
async def test_revoking_an_access_token_revokes_its_refresh_token(
    logged_in: Browser, expiring: RegisteredApp
) -> None:
    family = await start(logged_in, expiring)
    other = await start(logged_in, expiring)
    assert_ok(await revoke(logged_in, expiring, family["access_token"], token_type_hint="access_token"))
    assert await api_status(logged_in, family["access_token"]) == 401
    refused = await refresh(logged_in, expiring, family["refresh_token"])
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    # Another authorization is another family.
    assert await api_status(logged_in, other["access_token"]) == 200
    assert (await refresh(logged_in, expiring, other["refresh_token"])).status_code == 200


@pytest.mark.rfc("7009 2.1")
@pytest.mark.parametrize("hint", ["access_token", "refresh_token", "id_token", "bogus", None])
async def test_the_hint_is_only_a_hint(logged_in: Browser, expiring: RegisteredApp, hint: str | None) -> None:
    """A wrong or unknown hint still finds the token (§2.1: the server searches further)."""
    extra = {"token_type_hint": hint} if hint else {}
    family = await start(logged_in, expiring)
    assert_ok(await revoke(logged_in, expiring, family["refresh_token"], **extra))
    assert (await refresh(logged_in, expiring, family["refresh_token"])).json()["error"] == "invalid_grant"
    family = await start(logged_in, expiring)
    assert_ok(await revoke(logged_in, expiring, family["access_token"], **extra))
    assert await api_status(logged_in, family["access_token"]) == 401


@pytest.mark.rfc("7009 2.1")
async def test_client_authentication(browser: Browser, logged_in: Browser, registered: RegisteredApp) -> None:
    token = (await start(logged_in, registered))["access_token"]
    wrong = await browser.post(
        REVOKE, data={"client_id": registered.client_id, "client_secret": "fdcs_wrong", "token": token}
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert wrong.headers["cache-control"] == "no-store"
    via_basic = await browser.post(
        REVOKE, data={"token": token}, headers=basic(registered.client_id, "fdcs_x")
    )
    assert via_basic.status_code == 401 and via_basic.headers["www-authenticate"].startswith("Basic realm=")
    anonymous = await browser.post(REVOKE, data={"token": token})
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "invalid_client"
    assert await api_status(logged_in, token) == 200
    assert registered.client_secret
    ok = await browser.post(
        REVOKE, data={"token": token}, headers=basic(registered.client_id, registered.client_secret)
    )
    assert_ok(ok)
    assert await api_status(logged_in, token) == 401


@pytest.mark.rfc("7009 2.1")
async def test_request_errors(browser: Browser, registered: RegisteredApp) -> None:
    missing = await browser.post(REVOKE, data=creds(registered))
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    get = await browser.get(REVOKE)
    assert get.status_code == 405 and get.headers["allow"] == "POST"
    assert get.json()["error"] == "invalid_request"


async def test_public_clients_revoke_with_their_client_id(
    state: Any, db: Any, dev: Any, logged_in: Browser
) -> None:
    spa = await register_app(state, db, dev, name="SPA", public=True, access_token_ttl=TTL)
    verifier = "s" * 50
    code = await get_code(logged_in, spa, code_challenge=pkce.s256(verifier), code_challenge_method="S256")
    body = (await exchange(logged_in, spa, code, code_verifier=verifier)).json()
    assert_ok(await revoke(logged_in, spa, body["refresh_token"]))
    assert await api_status(logged_in, body["access_token"]) == 401


@pytest.mark.rfc("6749 2.3.1")
async def test_failed_client_authentication_is_limited_with_the_token_endpoint(
    browser: Browser, registered: RegisteredApp
) -> None:
    bad = {"client_id": registered.client_id, "client_secret": "fdcs_wrong", "token": "x"}
    statuses = [(await browser.post(REVOKE, data=bad)).status_code for _ in range(21)]
    assert statuses[:20] == [401] * 20 and statuses[20] == 429
    # The same counters as the token endpoint and introspection: correct credentials wait too.
    limited = await browser.post(
        TOKEN_URL, data={**creds(registered), "grant_type": "authorization_code", "code": "x"}
    )
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    introspect = await browser.post("/oauth/introspect", data={**creds(registered), "token": "x"})
    assert introspect.status_code == 429


@pytest.mark.rfc("6749 2.3.1")
@pytest.mark.parametrize("path", [REVOKE, "/oauth/introspect"])
async def test_failures_with_basic_credentials_count_per_client_and_are_audited(
    browser: Browser, new_browser: Any, registered: RegisteredApp, db: Any, path: str
) -> None:
    """HTTP Basic at the revocation and introspection endpoints: the same per-client-and-
    address limit and the same audit event as the token endpoint (the client id comes from the
    header)."""
    wrong = basic(registered.client_id, "fdcs_wrong")
    statuses = [(await browser.post(path, data={"token": "x"}, headers=wrong)).status_code for _ in range(21)]
    assert statuses == [401] * 20 + [429]
    # The limit is the client's at this address: the right secret from another one works.
    elsewhere = new_browser(client_ip="203.0.113.9")
    right = basic(registered.client_id, registered.client_secret or "")
    assert (await elsewhere.post(path, data={"token": "x"}, headers=right)).status_code == 200
    failures = (
        (
            await db.execute(
                select(AuditEvent).where(
                    AuditEvent.event == "client_auth.failed", AuditEvent.app_id == registered.client_id
                )
            )
        )
        .scalars()
        .all()
    )
    assert len(failures) == 20 and all(e.detail == {"client_id": registered.client_id} for e in failures)
