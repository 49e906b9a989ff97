"""Opt-in JWT access tokens (RFC 9068): verified by a resource server with the published JWKS
alone, and still known to Frontdesk (introspection, revocation, its own API)."""

from __future__ import annotations

from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from frontdesk.services import apps
from tests.oauth.conftest import Tenants
from tests.oauth_support import (
    RegisteredApp,
    basic,
    bearer,
    exchange,
    get_code,
    password_grant,
    register_app,
)
from tests.support import Browser

MAIN = "http://localhost:8000"
CO_UP = "http://co-up.localhost:8000"


@pytest.fixture
async def jwt_app(state: Any, db: Any, dev: Any) -> RegisteredApp:
    return await register_app(
        state, db, dev, name="JWT app", jwt_access_tokens=True, scopes="openid read_user"
    )


async def verified(b: Browser, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of ``token`` as a resource server checks them with the JWKS."""
    keys = KeySet.import_key_set((await b.get("/jwks.json")).json())
    decoded = jwt.decode(token, keys, algorithms=["RS256"])
    return dict(decoded.header), dict(decoded.claims)


async def introspect(b: Browser, app: RegisteredApp, token: str) -> dict[str, Any]:
    response = await b.post(
        "/oauth/introspect", data={"token": token}, headers=basic(app.client_id, app.client_secret or "")
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.rfc("9068 2")
async def test_a_jwt_access_token_verifies_with_the_published_keys(
    logged_in: Browser, jwt_app: RegisteredApp, person: Any
) -> None:
    response = await exchange(
        logged_in, jwt_app, await get_code(logged_in, jwt_app, scope="openid read_user")
    )
    assert response.status_code == 200, response.text
    body = response.json()
    # They always expire (an hour by default) and come with a refresh token.
    assert body["expires_in"] == 3600
    assert body["refresh_token"]
    header, claims = await verified(logged_in, body["access_token"])
    assert header["typ"] == "at+jwt"
    assert claims["iss"] == MAIN
    assert claims["aud"] == MAIN  # no resource requested: the host it was obtained at
    assert claims["sub"] == person.id
    assert claims["client_id"] == jwt_app.client_id
    assert claims["scope"] == "openid read_user"
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["jti"]
    # The ID token keeps its own type: neither can pass for the other (RFC 8725 §3.11).
    id_header, _ = await verified(logged_in, body["id_token"])
    assert id_header["typ"] == "JWT"
    assert (await logged_in.get("/api/user", headers=bearer(body["id_token"]))).status_code == 401


async def test_a_jwt_access_token_works_at_the_api_and_in_introspection(
    logged_in: Browser, jwt_app: RegisteredApp, person: Any
) -> None:
    token = (await exchange(logged_in, jwt_app, await get_code(logged_in, jwt_app))).json()["access_token"]
    user = await logged_in.get("/api/user", headers=bearer(token))
    assert user.status_code == 200, user.text
    assert user.json()["id"] == person.id
    info = await introspect(logged_in, jwt_app, token)
    assert info["active"] is True
    assert info["sub"] == person.id


async def test_revoking_a_jwt_access_token_ends_it_at_frontdesk(
    logged_in: Browser, jwt_app: RegisteredApp
) -> None:
    token = (await exchange(logged_in, jwt_app, await get_code(logged_in, jwt_app))).json()["access_token"]
    revoked = await logged_in.post(
        "/oauth/revoke", data={"token": token}, headers=basic(jwt_app.client_id, jwt_app.client_secret or "")
    )
    assert revoked.status_code == 200
    assert (await logged_in.get("/api/user", headers=bearer(token))).status_code == 401
    assert await introspect(logged_in, jwt_app, token) == {"active": False}


async def test_the_audience_is_the_requested_resource(
    logged_in: Browser, jwt_app: RegisteredApp, tenants: Tenants
) -> None:
    response = await password_grant(logged_in, jwt_app, resource=CO_UP)
    assert response.status_code == 200, response.text
    _, claims = await verified(logged_in, response.json()["access_token"])
    assert claims["aud"] == CO_UP


async def test_a_refreshed_jwt_access_token_is_a_jwt_too(logged_in: Browser, jwt_app: RegisteredApp) -> None:
    first = (await password_grant(logged_in, jwt_app)).json()
    refreshed = await logged_in.post(
        "/oauth/access_token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        headers=basic(jwt_app.client_id, jwt_app.client_secret or ""),
    )
    assert refreshed.status_code == 200, refreshed.text
    header, claims = await verified(logged_in, refreshed.json()["access_token"])
    assert header["typ"] == "at+jwt"
    assert claims["exp"] - claims["iat"] == 3600


async def test_the_apps_own_lifetime_applies(state: Any, db: Any, dev: Any, logged_in: Browser) -> None:
    app = await register_app(state, db, dev, name="Short", jwt_access_tokens=True, access_token_ttl=600)
    body = (await password_grant(logged_in, app)).json()
    assert body["expires_in"] == 600
    _, claims = await verified(logged_in, body["access_token"])
    assert claims["exp"] - claims["iat"] == 600


async def test_opaque_stays_the_default_and_the_switch_can_be_turned_off(
    state: Any, db: Any, logged_in: Browser, jwt_app: RegisteredApp, registered: RegisteredApp
) -> None:
    opaque = (await password_grant(logged_in, registered)).json()
    assert opaque["access_token"].startswith("fdat_")
    assert "expires_in" not in opaque
    await apps.update_app(db, jwt_app.client_id, jwt_access_tokens=False)
    await db.commit()
    assert (await password_grant(logged_in, jwt_app)).json()["access_token"].startswith("fdat_")


async def test_the_app_page_switches_jwt_access_tokens(browser: Browser, db: Any) -> None:
    from sqlalchemy import select

    from frontdesk.store.models import App

    await browser.signup("owner@example.com", name="Owner")
    fields = {"name": "Page App", "redirect_uris": "https://example.com/cb", "scope": ["read_user"]}
    created = await browser.submit("/oauth2_clients/new", {**fields, "jwt_access_tokens": "1"})
    assert created.status_code == 303, created.text
    db.expire_all()
    assert (await db.execute(select(App.jwt_access_tokens))).scalar_one() is True
    page = await browser.get(created.headers["location"])
    assert 'name="jwt_access_tokens" value="1" checked' in page.text
    saved = await browser.submit(created.headers["location"], fields)  # the box left unticked
    assert saved.status_code == 303, saved.text
    db.expire_all()
    assert (await db.execute(select(App.jwt_access_tokens))).scalar_one() is False
