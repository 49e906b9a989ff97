"""Protected resource metadata (RFC 9728) and resource indicators (RFC 8707).

Each host is one protected resource, identified by its issuer URL; ``resource=`` at the
authorization and token endpoints narrows a token to one of them (or to a resource the
operator configured), introspection reports it as ``aud``, and Frontdesk's own API refuses a
token meant for another resource.
"""

from __future__ import annotations

from typing import Any

import pytest

from frontdesk.oauth.resource import canonical_resource
from tests.oauth.conftest import Tenants
from tests.oauth_support import (
    RegisteredApp,
    authorize_params,
    basic,
    bearer,
    exchange,
    get_code,
    parse_challenge,
    password_grant,
    query,
    register_app,
)
from tests.support import Browser

MAIN = "http://localhost:8000"
CO_UP = "http://co-up.localhost:8000"
HARBOUR = "http://members.harbour.test:8000"
BOOKINGS = "https://bookings.example"
METADATA = "/.well-known/oauth-protected-resource"
TTL = 300


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"extra_resources": [BOOKINGS + "/"]}


async def introspect(b: Browser, app: RegisteredApp, token: str) -> dict[str, Any]:
    assert app.client_secret is not None
    response = await b.post(
        "/oauth/introspect", data={"token": token}, headers=basic(app.client_id, app.client_secret)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def token_for(b: Browser, app: RegisteredApp, *, at_authorize: str | None = None, **extra: str) -> Any:
    code = await get_code(b, app, **({"resource": at_authorize} if at_authorize else {}))
    return await exchange(b, app, code, **extra)


# ---- RFC 9728 metadata ------------------------------------------------------------------------


@pytest.mark.rfc("9728 2")
@pytest.mark.parametrize("host", ["localhost:8000", "co-up.localhost:8000", "members.harbour.test:8000"])
async def test_each_host_describes_itself_as_a_protected_resource(
    new_browser: Any, tenants: Tenants, host: str
) -> None:
    b = new_browser(host)
    response = await b.get(METADATA)
    assert response.status_code == 200
    doc = response.json()
    issuer = (await b.get("/.well-known/oauth-authorization-server")).json()["issuer"]
    assert issuer == f"http://{host}"
    assert doc["resource"] == issuer
    assert doc["authorization_servers"] == [issuer]
    assert "read_user" in doc["scopes_supported"]
    assert doc["bearer_methods_supported"] == ["header", "body", "query"]
    # Frontdesk's API signs no responses (RFC 9728 §2 resource_signing_alg_values_supported).
    assert "resource_signing_alg_values_supported" not in doc


@pytest.mark.rfc("9728 5.1")
@pytest.mark.parametrize(
    ("headers", "error"),
    [({}, None), (bearer("fdat_not-a-token"), "invalid_token")],
)
async def test_bearer_challenges_point_at_the_hosts_metadata(
    new_browser: Any, tenants: Tenants, headers: dict[str, str], error: str | None
) -> None:
    for origin in (MAIN, CO_UP):
        b = new_browser(origin.removeprefix("http://"))
        response = await b.get("/api/user", headers=headers)
        assert response.status_code == 401
        scheme, params = parse_challenge(response.headers["www-authenticate"])
        assert scheme == "Bearer"
        assert params["resource_metadata"] == origin + METADATA
        assert params.get("error") == error
        assert (await b.get(params["resource_metadata"].removeprefix(origin))).json()["resource"] == origin


# ---- the authorization endpoint ---------------------------------------------------------------


@pytest.mark.rfc("8707 2")
async def test_a_token_for_a_space_host_is_refused_by_the_main_hosts_api(
    logged_in: Browser, new_browser: Any, registered: RegisteredApp, tenants: Tenants
) -> None:
    response = await token_for(logged_in, registered, at_authorize=CO_UP + "/")
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    assert (await introspect(logged_in, registered, token))["aud"] == CO_UP

    refused = await logged_in.get("/api/user", headers=bearer(token))
    assert refused.status_code == 401
    _, params = parse_challenge(refused.headers["www-authenticate"])
    assert params["error"] == "invalid_token"
    assert (
        await new_browser("quay.localhost:8000").get("/api/user", headers=bearer(token))
    ).status_code == 401

    at_space = await new_browser("co-up.localhost:8000").get("/api/user", headers=bearer(token))
    assert at_space.status_code == 200, at_space.text


async def test_a_token_without_resource_works_at_every_host_and_has_no_aud(
    logged_in: Browser, new_browser: Any, registered: RegisteredApp, tenants: Tenants
) -> None:
    token = (await token_for(logged_in, registered)).json()["access_token"]
    assert "aud" not in await introspect(logged_in, registered, token)
    assert (await logged_in.get("/api/user", headers=bearer(token))).status_code == 200
    assert (
        await new_browser("co-up.localhost:8000").get("/api/user", headers=bearer(token))
    ).status_code == 200


async def test_an_operator_configured_resource_is_accepted_and_not_frontdesks_own_api(
    logged_in: Browser, new_browser: Any, registered: RegisteredApp, tenants: Tenants
) -> None:
    token = (await token_for(logged_in, registered, at_authorize=BOOKINGS)).json()["access_token"]
    assert (await introspect(logged_in, registered, token))["aud"] == BOOKINGS
    assert (await logged_in.get("/api/user", headers=bearer(token))).status_code == 401
    assert (
        await new_browser("co-up.localhost:8000").get("/api/user", headers=bearer(token))
    ).status_code == 401


@pytest.mark.rfc("8707 2")
@pytest.mark.parametrize(
    "resource",
    [
        "https://evil.example",  # no host of this deployment
        "http://quay.localhost:8000/api",  # a path under a host is not its resource
        "/api/user",  # relative
        MAIN + "/#frag",  # fragment
        "http://unknown-space.localhost:8000",
        "https://localhost:8000",  # another scheme than the host's issuer
    ],
)
async def test_unknown_or_malformed_resources_are_invalid_target_at_authorize(
    logged_in: Browser, registered: RegisteredApp, tenants: Tenants, resource: str
) -> None:
    response = await logged_in.get("/oauth/authorize", params=authorize_params(registered, resource=resource))
    assert response.status_code == 302
    params = query(response.headers["location"])
    assert params["error"] == "invalid_target"
    assert "code" not in params


async def test_two_resources_in_one_authorization_request_are_invalid_target(
    logged_in: Browser, registered: RegisteredApp, tenants: Tenants
) -> None:
    params = [*authorize_params(registered).items(), ("resource", MAIN), ("resource", CO_UP)]
    response = await logged_in.get("/oauth/authorize", params=params)
    assert response.status_code == 302
    assert query(response.headers["location"])["error"] == "invalid_target"


async def test_the_resource_is_part_of_the_consented_request(
    logged_in: Browser, registered: RegisteredApp, tenants: Tenants
) -> None:
    """The consent form carries the resource back; the code remembers it."""
    page = await logged_in.get("/oauth/authorize", params=authorize_params(registered, resource=CO_UP))
    assert page.status_code == 200
    assert f'name="resource" value="{CO_UP}"' in page.text


# ---- the token endpoint -----------------------------------------------------------------------


@pytest.mark.rfc("8707 2.2")
async def test_the_token_request_cannot_move_the_codes_resource(
    logged_in: Browser, registered: RegisteredApp, tenants: Tenants
) -> None:
    response = await token_for(logged_in, registered, at_authorize=CO_UP, resource=MAIN)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_target"
    # The same resource again is fine.
    again = await token_for(logged_in, registered, at_authorize=CO_UP, resource=CO_UP + "/")
    assert again.status_code == 200, again.text
    assert (await introspect(logged_in, registered, again.json()["access_token"]))["aud"] == CO_UP


async def test_the_token_request_may_narrow_a_code_without_resource(
    logged_in: Browser, registered: RegisteredApp, tenants: Tenants
) -> None:
    response = await token_for(logged_in, registered, resource=CO_UP)
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    assert (await introspect(logged_in, registered, token))["aud"] == CO_UP
    assert (await logged_in.get("/api/user", headers=bearer(token))).status_code == 401


@pytest.mark.parametrize("resource", ["https://evil.example", "not a uri", "urn:x#y"])
async def test_an_unknown_resource_at_the_token_endpoint_is_invalid_target_and_keeps_the_code_usable(
    logged_in: Browser, registered: RegisteredApp, tenants: Tenants, resource: str
) -> None:
    code = await get_code(logged_in, registered)
    refused = await exchange(logged_in, registered, code, resource=resource)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_target"
    # Checked before the code was consumed.
    assert (await exchange(logged_in, registered, code)).status_code == 200


async def test_refresh_keeps_the_familys_resource(
    state: Any, db: Any, dev: Any, logged_in: Browser, tenants: Tenants
) -> None:
    app = await register_app(state, db, dev, name="Expiring", access_token_ttl=TTL)
    first = (await token_for(logged_in, app, at_authorize=CO_UP)).json()

    async def refresh(raw: str, **extra: str) -> Any:
        return await logged_in.post(
            "/oauth/access_token",
            data={"grant_type": "refresh_token", "refresh_token": raw, **extra},
            headers=basic(app.client_id, app.client_secret or ""),
        )

    moved = await refresh(first["refresh_token"], resource=MAIN)
    assert moved.status_code == 400
    assert moved.json()["error"] == "invalid_target"
    second = await refresh(first["refresh_token"])
    assert second.status_code == 200, second.text
    body = second.json()
    assert (await introspect(logged_in, app, body["access_token"]))["aud"] == CO_UP
    # The successor refresh token stays bound too.
    third = await refresh(body["refresh_token"])
    assert third.status_code == 200, third.text
    assert (await introspect(logged_in, app, third.json()["access_token"]))["aud"] == CO_UP


async def test_the_password_grant_takes_a_resource(
    logged_in: Browser, registered: RegisteredApp, tenants: Tenants
) -> None:
    response = await password_grant(logged_in, registered, resource=CO_UP)
    assert response.status_code == 200, response.text
    assert (await introspect(logged_in, registered, response.json()["access_token"]))["aud"] == CO_UP
    refused = await password_grant(logged_in, registered, resource="https://evil.example")
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_target"


# ---- units --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("HTTPS://Example.COM/", "https://example.com"),
        ("https://example.com", "https://example.com"),
        ("https://example.com/api?v=1", "https://example.com/api?v=1"),
        ("urn:example:bookings", "urn:example:bookings"),
    ],
)
def test_canonical_resource(given: str, canonical: str) -> None:
    assert canonical_resource(given) == canonical


async def test_a_space_token_keeps_its_parents_resource(
    logged_in: Browser, registered: RegisteredApp, tenants: Tenants
) -> None:
    """Exchanging a token narrowed to the main host never widens it to every host."""
    token = (await token_for(logged_in, registered, at_authorize=MAIN)).json()["access_token"]
    made = await logged_in.post(f"/api/access_tokens/{token}/space", data={"space_id": "co-up"})
    assert made.status_code == 201, made.text
    space_token = made.json()["token"]
    assert (await introspect(logged_in, registered, space_token))["aud"] == MAIN
