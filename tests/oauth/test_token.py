"""The token endpoint (RFC 6749 §3.2, §4.1.3, §5) and the authorization code grant."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import select

from frontdesk.oauth import pkce
from frontdesk.store.models import AccessToken
from tests.oauth_support import (
    CALLBACK,
    TOKEN_URL,
    RegisteredApp,
    basic,
    exchange,
    get_code,
    register_app,
)
from tests.support import Browser


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def assert_no_store(response: Any) -> None:
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    assert response.headers["content-type"].startswith("application/json")


@pytest.mark.rfc("6749 5.1")
async def test_the_documents_exchange(logged_in: Browser, registered: RegisteredApp) -> None:
    code = await get_code(logged_in, registered)
    # Exactly the body the source document shows: no redirect_uri (decision 7).
    response = await logged_in.post(
        TOKEN_URL,
        content=(
            f"client_id={registered.client_id}&client_secret={registered.client_secret}"
            f"&grant_type=authorization_code&code={code}"
        ),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200, response.text
    assert_no_store(response)
    body = response.json()
    assert set(body) == {"access_token", "token_type", "scope"}
    assert body["token_type"] == "bearer" and body["scope"] == "read_user read_memberships"
    assert body["access_token"].startswith("fdat_") and len(body["access_token"]) == 5 + 43
    me = await logged_in.get("/api/user", headers=bearer(body["access_token"]))
    assert me.status_code == 200 and me.json()["email"] == "pat@example.com"


@pytest.mark.rfc("6749 2.3.1")
async def test_basic_authentication_raw_and_encoded(logged_in: Browser, registered: RegisteredApp) -> None:
    assert registered.client_secret
    for user, password in [
        (registered.client_id, registered.client_secret),
        (quote(registered.client_id, safe=""), quote(registered.client_secret, safe="")),
    ]:
        code = await get_code(logged_in, registered)
        raw = base64.b64encode(f"{user}:{password}".encode()).decode()
        response = await logged_in.post(
            TOKEN_URL,
            data={"grant_type": "authorization_code", "code": code},
            headers={"authorization": f"Basic {raw}"},
        )
        assert response.status_code == 200, response.text


@pytest.mark.rfc("6749 2.3")
async def test_one_authentication_method_only(logged_in: Browser, registered: RegisteredApp) -> None:
    assert registered.client_secret
    code = await get_code(logged_in, registered)
    response = await logged_in.post(
        TOKEN_URL,
        data={"grant_type": "authorization_code", "code": code, "client_secret": registered.client_secret},
        headers=basic(registered.client_id, registered.client_secret),
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


@pytest.mark.rfc("6749 5.2")
async def test_invalid_client_looks_the_same_for_unknown_and_wrong(
    browser: Browser, registered: RegisteredApp
) -> None:
    wrong = await browser.post(
        TOKEN_URL,
        data={
            "grant_type": "authorization_code",
            "code": "x",
            "client_id": registered.client_id,
            "client_secret": "fdcs_wrong",
        },
    )
    unknown = await browser.post(
        TOKEN_URL,
        data={
            "grant_type": "authorization_code",
            "code": "x",
            "client_id": "nobody",
            "client_secret": "fdcs_wrong",
        },
    )
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json()
        == unknown.json()
        == {"error": "invalid_client", "error_description": "client authentication failed"}
    )
    assert "www-authenticate" not in wrong.headers
    assert_no_store(wrong)
    via_basic = await browser.post(
        TOKEN_URL,
        data={"grant_type": "authorization_code", "code": "x"},
        headers=basic(registered.client_id, "fdcs_wrong"),
    )
    assert via_basic.status_code == 401 and via_basic.headers["www-authenticate"].startswith("Basic realm=")


@pytest.mark.rfc("6749 4.1.2")
async def test_a_code_works_once_and_replay_revokes_its_token(
    logged_in: Browser, registered: RegisteredApp
) -> None:
    code = await get_code(logged_in, registered)
    first = await exchange(logged_in, registered, code)
    token = first.json()["access_token"]
    assert (await logged_in.get("/api/user", headers=bearer(token))).status_code == 200
    second = await exchange(logged_in, registered, code)
    assert second.status_code == 400 and second.json()["error"] == "invalid_grant"
    replayed = await logged_in.get("/api/user", headers=bearer(token))
    assert replayed.status_code == 401 and 'error="invalid_token"' in replayed.headers["www-authenticate"]


@pytest.mark.rfc("6749 4.1.3")
async def test_concurrent_redemptions_yield_one_token(
    logged_in: Browser, registered: RegisteredApp, new_browser: Any, db: Any
) -> None:
    code = await get_code(logged_in, registered)
    clients = [new_browser() for _ in range(6)]
    responses = await asyncio.gather(*(exchange(c, registered, code) for c in clients))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 400, 400, 400, 400, 400], [r.text for r in responses]
    issued = (
        await db.execute(select(AccessToken).where(AccessToken.grant_type == "authorization_code"))
    ).scalars()
    assert len(list(issued)) == 1
    # The losers were replays that waited for the winner's transaction, so they revoked its token.
    winner = next(r for r in responses if r.status_code == 200).json()["access_token"]
    assert (await logged_in.get("/api/user", headers=bearer(winner))).status_code == 401


@pytest.mark.rfc("6749 4.1.3")
async def test_code_bound_to_client_and_burned(
    state: Any, db: Any, dev: Any, logged_in: Browser, registered: RegisteredApp
) -> None:
    other = await register_app(state, db, dev, name="Other")
    code = await get_code(logged_in, registered)
    stolen = await exchange(logged_in, other, code)
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    assert (await exchange(logged_in, registered, code)).json()["error"] == "invalid_grant"


@pytest.mark.rfc("6749 4.1.3")
async def test_redirect_uri_must_match_when_sent(logged_in: Browser, registered: RegisteredApp) -> None:
    code = await get_code(logged_in, registered)
    wrong = await exchange(logged_in, registered, code, redirect_uri="https://app.example/other")
    assert wrong.json()["error"] == "invalid_grant"
    code = await get_code(logged_in, registered)
    assert (await exchange(logged_in, registered, code, redirect_uri=CALLBACK)).status_code == 200


@pytest.mark.rfc("6749 4.1.2")
async def test_expired_code(logged_in: Browser, registered: RegisteredApp, state: Any) -> None:
    code = await get_code(logged_in, registered)
    later = state.oauth.config.clock() + timedelta(seconds=61)
    grant_config = dataclasses.replace(state.oauth.token.config, clock=lambda: later)
    state.oauth.token.config = grant_config
    response = await exchange(logged_in, registered, code)
    assert response.status_code == 400 and response.json() == {
        "error": "invalid_grant",
        "error_description": "the authorization code expired",
    }


@pytest.mark.rfc("6749 3.2")
async def test_token_endpoint_request_errors(browser: Browser, registered: RegisteredApp) -> None:
    creds = {"client_id": registered.client_id, "client_secret": registered.client_secret or ""}
    get = await browser.get(TOKEN_URL)
    assert get.status_code == 405 and get.json()["error"] == "invalid_request"
    assert_no_store(get)
    missing = await browser.post(TOKEN_URL, data=creds)
    assert missing.json()["error"] == "invalid_request"
    unsupported = await browser.post(TOKEN_URL, data={**creds, "grant_type": "client_credentials"})
    assert unsupported.json()["error"] == "unsupported_grant_type"
    repeated = await browser.post(
        TOKEN_URL,
        content=f"grant_type=authorization_code&code=a&code=b&client_id="
        f"{registered.client_id}&client_secret={registered.client_secret}",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert repeated.status_code == 400 and repeated.json()["error"] == "invalid_request"
    no_code = await browser.post(TOKEN_URL, data={**creds, "grant_type": "authorization_code"})
    assert no_code.json()["error"] == "invalid_request"
    unknown_code = await browser.post(
        TOKEN_URL, data={**creds, "grant_type": "authorization_code", "code": "fdac_x"}
    )
    assert unknown_code.json()["error"] == "invalid_grant"


@pytest.mark.rfc("7636 4.6")
async def test_pkce_at_the_token_endpoint(logged_in: Browser, registered: RegisteredApp) -> None:
    verifier = "v" * 43
    challenge = {"code_challenge": pkce.s256(verifier), "code_challenge_method": "S256"}
    code = await get_code(logged_in, registered, **challenge)
    assert (await exchange(logged_in, registered, code)).json()[
        "error"
    ] == "invalid_grant"  # missing verifier
    code = await get_code(logged_in, registered, **challenge)
    assert (await exchange(logged_in, registered, code, code_verifier="w" * 43)).json()[
        "error"
    ] == "invalid_grant"
    code = await get_code(logged_in, registered, **challenge)
    assert (await exchange(logged_in, registered, code, code_verifier=verifier)).status_code == 200
    # Downgrade: a verifier for a code issued without a challenge (RFC 9700 §4.8.2).
    code = await get_code(logged_in, registered)
    assert (await exchange(logged_in, registered, code, code_verifier=verifier)).json()[
        "error"
    ] == "invalid_grant"


async def test_public_client_exchanges_with_pkce_and_no_secret(
    state: Any, db: Any, dev: Any, logged_in: Browser
) -> None:
    public = await register_app(state, db, dev, public=True, name="SPA")
    verifier = "p" * 50
    code = await get_code(logged_in, public, code_challenge=pkce.s256(verifier), code_challenge_method="S256")
    response = await logged_in.post(
        TOKEN_URL,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": public.client_id,
            "code_verifier": verifier,
        },
    )
    assert response.status_code == 200, response.text


@pytest.mark.rfc("6749 10.10")
async def test_tokens_are_unguessable_and_prefixed(registered: RegisteredApp, logged_in: Browser) -> None:
    tokens = set()
    for _ in range(20):
        code = await get_code(logged_in, registered)
        tokens.add((await exchange(logged_in, registered, code)).json()["access_token"])
    assert len(tokens) == 20
    assert all(t.startswith("fdat_") and len(t) == 48 for t in tokens)


@pytest.mark.parametrize("settings_overrides", [{"strict_mode": True}])
async def test_strict_mode(logged_in: Browser, registered: RegisteredApp) -> None:
    code = await get_code(logged_in, registered)
    query_params = await logged_in.post(
        TOKEN_URL + f"?client_secret={registered.client_secret}",
        data={"grant_type": "authorization_code", "code": code, "client_id": registered.client_id},
    )
    assert query_params.json()["error"] == "invalid_request"
    code = await get_code(logged_in, registered)
    assert (await exchange(logged_in, registered, code)).json()[
        "error"
    ] == "invalid_grant"  # redirect_uri needed
    code = await get_code(logged_in, registered)
    assert (await exchange(logged_in, registered, code, redirect_uri=CALLBACK)).status_code == 200


async def test_space_host_code_redeems_on_main_and_own_host_only(
    state: Any, db: Any, person: Any, registered: RegisteredApp, new_browser: Any
) -> None:
    from frontdesk.services import spaces

    await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=person)
    await db.commit()
    await spaces.create_space(db, state.settings, subdomain="other", name="Other", owner=person)
    await db.commit()
    b: Browser = new_browser("co-up.localhost:8000")
    await b.login("pat@example.com")
    code = await get_code(b, registered)
    other_host = new_browser("other.localhost:8000")
    assert (await exchange(other_host, registered, code)).json()["error"] == "invalid_grant"
    code = await get_code(b, registered)
    assert (
        await exchange(new_browser(), registered, code)
    ).status_code == 200  # main host, like omniauth_cobot
    code = await get_code(b, registered)
    assert (await exchange(b, registered, code)).status_code == 200  # its own issuer


async def test_users_other_tokens_are_unaffected_by_scope_changes(
    state: Any, db: Any, logged_in: Browser, registered: RegisteredApp
) -> None:
    from frontdesk.services import apps

    code = await get_code(logged_in, registered)
    old = (await exchange(logged_in, registered, code)).json()["access_token"]
    app = await apps.get_app(db, registered.client_id)
    assert app is not None
    await apps.update_app(db, app.client_id, scopes="read_user read_memberships navigation")
    await db.commit()
    info = await logged_in.get(f"/api/access_tokens/{old}")
    assert info.json() == {"scope": ["read_user", "read_memberships"]}
    code = await get_code(logged_in, registered, scope="read_user navigation")
    new = (await exchange(logged_in, registered, code)).json()
    assert new["scope"] == "read_user navigation"
