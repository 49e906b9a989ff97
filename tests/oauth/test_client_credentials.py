"""The client credentials grant (RFC 6749 §4.4) and administrative scopes (project decisions
10 and 11): who may use it, what it yields, and where its tokens (which act for no person)
are refused."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from frontdesk.services import apps, spaces
from tests.oauth_support import (
    TOKEN_URL,
    RegisteredApp,
    basic,
    bearer,
    code_token,
    parse_challenge,
    password_grant,
    query,
    register_app,
)
from tests.support import Browser


async def cc_token(b: Browser, app: RegisteredApp, **extra: str) -> httpx.Response:
    assert app.client_secret is not None
    return await b.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials", **extra},
        headers=basic(app.client_id, app.client_secret),
    )


@pytest.fixture
async def machine(state: Any, db: Any, dev: Any) -> RegisteredApp:
    """A confidential app with the grant switched on, expiring tokens and openid in its scopes."""
    return await register_app(
        state,
        db,
        dev,
        scopes="read_user openid",
        client_credentials=True,
        access_token_ttl=3600,
    )


@pytest.fixture
async def admin_app(state: Any, db: Any, dev: Any) -> RegisteredApp:
    return await register_app(
        state, db, dev, name="Operator", scopes="read_user", admin_scopes="admin:users:read admin:apps:read"
    )


@pytest.mark.rfc("6749 4.4.3")
async def test_issues_a_token_without_refresh_or_id_token(browser: Browser, machine: RegisteredApp) -> None:
    response = await cc_token(browser, machine)
    assert response.status_code == 200, response.text
    body = response.json()
    # No person: the app's own scopes without openid, no refresh token (§4.4.3), no ID token.
    assert body["scope"] == "read_user"
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert "refresh_token" not in body
    assert "id_token" not in body
    assert response.headers["cache-control"] == "no-store"


async def test_client_secret_post_works_too(browser: Browser, machine: RegisteredApp) -> None:
    response = await browser.post(
        TOKEN_URL,
        data={
            "grant_type": "client_credentials",
            "client_id": machine.client_id,
            "client_secret": machine.client_secret,
            "scope": "read_user",
        },
    )
    assert response.status_code == 200, response.text


@pytest.mark.rfc("6749 4.4")
async def test_an_app_without_the_switch_is_refused(browser: Browser, registered: RegisteredApp) -> None:
    response = await cc_token(browser, registered)
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"


@pytest.mark.rfc("6749 4.4")
async def test_a_public_app_is_refused(browser: Browser, state: Any, db: Any, dev: Any) -> None:
    public = await register_app(state, db, dev, public=True)
    response = await browser.post(
        TOKEN_URL, data={"grant_type": "client_credentials", "client_id": public.client_id}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"


async def test_a_public_app_cannot_be_given_the_switch(state: Any, db: Any, dev: Any) -> None:
    with pytest.raises(apps.FieldError):
        await register_app(state, db, dev, public=True, client_credentials=True)


async def test_person_scopes_are_refused(browser: Browser, machine: RegisteredApp) -> None:
    response = await cc_token(browser, machine, scope="openid read_user")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


async def test_admin_scopes_need_to_be_listed(browser: Browser, admin_app: RegisteredApp) -> None:
    granted = await cc_token(browser, admin_app, scope="admin:users:read")
    assert granted.status_code == 200, granted.text
    assert granted.json()["scope"] == "admin:users:read"
    refused = await cc_token(browser, admin_app, scope="admin:users:read admin:users:write")
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_scope"


async def test_admin_scopes_are_not_the_default(browser: Browser, admin_app: RegisteredApp) -> None:
    """Nothing asked for: the app's own scopes; administrative ones must be asked for."""
    response = await cc_token(browser, admin_app)
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "read_user"


async def test_an_ordinary_app_gets_no_admin_scope(browser: Browser, machine: RegisteredApp) -> None:
    response = await cc_token(browser, machine, scope="admin:users:read")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


async def test_admin_scopes_are_refused_in_the_password_grant(
    browser: Browser, admin_app: RegisteredApp, person: Any
) -> None:
    response = await password_grant(browser, admin_app, scope="read_user admin:users:read")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


async def test_admin_scopes_are_refused_at_the_authorization_endpoint(
    logged_in: Browser, admin_app: RegisteredApp
) -> None:
    from tests.oauth_support import authorize_params

    response = await logged_in.get(
        "/oauth/authorize", params=authorize_params(admin_app, scope="admin:users:read")
    )
    assert response.status_code == 302
    assert query(response.headers["location"])["error"] == "invalid_scope"


async def test_admin_scopes_are_refused_on_refresh(state: Any, db: Any, dev: Any, logged_in: Browser) -> None:
    app = await register_app(
        state, db, dev, scopes="read_user", admin_scopes="admin:users:read", access_token_ttl=3600
    )
    body = await code_token(logged_in, app)
    response = await logged_in.post(
        TOKEN_URL,
        data={
            "grant_type": "refresh_token",
            "refresh_token": body["refresh_token"],
            "scope": "admin:users:read",
            "client_id": app.client_id,
            "client_secret": app.client_secret,
        },
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


async def test_admin_scopes_cannot_be_ordinary_scopes(state: Any, db: Any, dev: Any) -> None:
    with pytest.raises(apps.FieldError):
        await register_app(state, db, dev, scopes="read_user admin:users:read", trusted=True)


@pytest.mark.parametrize("path", ["/api/user", "/api/userinfo"])
async def test_a_token_without_a_person_gets_403_at_person_endpoints(
    browser: Browser, machine: RegisteredApp, path: str
) -> None:
    token = (await cc_token(browser, machine)).json()["access_token"]
    response = await browser.get(path, headers=bearer(token))
    assert response.status_code == 403, response.text
    scheme, params = parse_challenge(response.headers["www-authenticate"])
    assert scheme == "Bearer"
    assert params["error"] == "insufficient_scope"


async def test_a_token_without_a_person_makes_no_space_token(
    browser: Browser, machine: RegisteredApp, state: Any, db: Any, dev: Any
) -> None:
    await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=dev)
    await db.commit()
    token = (await cc_token(browser, machine)).json()["access_token"]
    response = await browser.post(f"/api/access_tokens/{token}/space", data={"space_id": "co-up"})
    assert response.status_code == 403, response.text


async def test_introspection_names_the_client_as_subject(browser: Browser, machine: RegisteredApp) -> None:
    token = (await cc_token(browser, machine)).json()["access_token"]
    assert machine.client_secret is not None
    response = await browser.post(
        "/oauth/introspect", data={"token": token}, headers=basic(machine.client_id, machine.client_secret)
    )
    assert response.status_code == 200
    body = response.json()
    assert body["active"] is True
    assert body["sub"] == machine.client_id
    assert "username" not in body
    assert body["scope"] == "read_user"


BOOKINGS = "https://bookings.example"


@pytest.mark.rfc("8707 2")
@pytest.mark.parametrize("settings_overrides", [{"extra_resources": [BOOKINGS]}])
async def test_resource_narrows_the_audience(browser: Browser, machine: RegisteredApp) -> None:
    response = await cc_token(browser, machine, resource=BOOKINGS + "/")
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    assert machine.client_secret is not None
    seen = await browser.post(
        "/oauth/introspect", data={"token": token}, headers=basic(machine.client_id, machine.client_secret)
    )
    assert seen.json()["aud"] == BOOKINGS
    # Meant for the bookings API: this host's own API refuses it (RFC 8707, RFC 6750 §3.1).
    here = await browser.get("/api/user", headers=bearer(token))
    assert here.status_code == 401
    assert parse_challenge(here.headers["www-authenticate"])[1]["error"] == "invalid_token"


@pytest.mark.rfc("8707 2")
async def test_an_unknown_resource_is_invalid_target(browser: Browser, machine: RegisteredApp) -> None:
    response = await cc_token(browser, machine, resource="https://elsewhere.example")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_target"


async def test_the_token_can_be_revoked(browser: Browser, machine: RegisteredApp) -> None:
    token = (await cc_token(browser, machine)).json()["access_token"]
    assert machine.client_secret is not None
    auth = basic(machine.client_id, machine.client_secret)
    assert (await browser.post("/oauth/revoke", data={"token": token}, headers=auth)).status_code == 200
    response = await browser.post("/oauth/introspect", data={"token": token}, headers=auth)
    assert response.json() == {"active": False}


async def test_switching_off_revokes_the_apps_tokens(
    browser: Browser, admin_app: RegisteredApp, state: Any, db: Any
) -> None:
    token = (await cc_token(browser, admin_app, scope="admin:users:read")).json()["access_token"]
    assert (await browser.get("/api/admin/users", headers=bearer(token))).status_code == 200
    await apps.update_app(db, admin_app.client_id, admin_scopes="admin:apps:read")
    await db.commit()
    response = await browser.get("/api/admin/users", headers=bearer(token))
    assert response.status_code == 401
    refused = await cc_token(browser, admin_app, scope="admin:users:read")
    assert refused.json()["error"] == "invalid_scope"
    await apps.update_app(db, admin_app.client_id, client_credentials=False)
    await db.commit()
    assert (await cc_token(browser, admin_app)).json()["error"] == "unauthorized_client"


async def test_metadata_lists_the_grant_and_the_admin_scopes_on_the_main_host(
    browser: Browser, new_browser: Any, state: Any, db: Any, dev: Any
) -> None:
    doc = (await browser.get("/.well-known/oauth-authorization-server")).json()
    assert "client_credentials" in doc["grant_types_supported"]
    assert "admin:users:write" in doc["scopes_supported"]
    assert "scim" in doc["scopes_supported"]
    await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=dev)
    await db.commit()
    space_doc = (
        await new_browser("co-up.localhost:8000").get("/.well-known/oauth-authorization-server")
    ).json()
    assert "admin:users:write" not in space_doc["scopes_supported"]


async def test_dynamic_registration_refuses_the_grant(browser: Browser) -> None:
    response = await browser.post(
        "/oauth/register",
        json={
            "redirect_uris": ["https://app.example/cb"],
            "grant_types": ["authorization_code", "client_credentials"],
        },
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"


async def test_dynamic_registration_refuses_admin_scopes(browser: Browser) -> None:
    response = await browser.post(
        "/oauth/register", json={"redirect_uris": ["https://app.example/cb"], "scope": "admin:users:read"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"


async def test_the_app_page_switches_the_grant(browser: Browser, state: Any, db: Any) -> None:
    from tests.web.test_apps_pages import form, register_ok, shown

    await browser.signup("dev2@example.com", name="Dev Two")
    client_id, page = await register_ok(browser, client_credentials="1")
    secret = shown(page, "client-secret")
    assert secret is not None
    app = RegisteredApp(client_id, secret, "", "https://example.com/cb")
    assert (await cc_token(browser, app)).status_code == 200
    # Saving the settings without the box switches it off (and revokes such tokens).
    saved = await browser.submit(f"/oauth2_clients/{client_id}", form(redirect_uris="https://example.com/cb"))
    assert saved.status_code == 303, saved.text
    assert (await cc_token(browser, app)).json()["error"] == "unauthorized_client"
    assert "client_credentials" in (await browser.get(f"/oauth2_clients/{client_id}")).text
