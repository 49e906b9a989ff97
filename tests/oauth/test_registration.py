"""Dynamic client registration (RFC 7591) of public PKCE clients."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import select

from frontdesk.oauth import pkce
from frontdesk.oauth.errors import InvalidClientMetadata, InvalidRedirectUriMetadata
from frontdesk.oauth.registration import validate_client_metadata
from frontdesk.services import apps
from frontdesk.store.models import App, User
from tests.oauth_support import TOKEN_URL, RegisteredApp, get_code, query
from tests.support import Browser

REGISTER = "/oauth/register"
SPA = {
    "client_name": "My SPA",
    "client_uri": "https://spa.example",
    "redirect_uris": ["https://spa.example/callback", "http://127.0.0.1/callback"],
    "token_endpoint_auth_method": "none",
    "grant_types": ["authorization_code"],
    "response_types": ["code"],
    "scope": "openid read_user",
}


async def register(b: Browser, body: Any, **kwargs: Any) -> Any:
    return await b.post(REGISTER, json=body, **kwargs)


@pytest.mark.rfc("7591 3.2.1")
async def test_registers_a_public_client(browser: Browser, db: Any) -> None:
    before = int(time.time())
    response = await register(browser, SPA)
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {
        "client_id",
        "client_id_issued_at",
        "client_name",
        "client_uri",
        "redirect_uris",
        "grant_types",
        "response_types",
        "token_endpoint_auth_method",
        "scope",
    }
    assert "client_secret" not in body
    assert before - 5 <= body["client_id_issued_at"] <= int(time.time()) + 5
    assert {k: body[k] for k in SPA} == SPA
    app = await db.get(App, body["client_id"])
    assert app.public and not app.password_grant and app.require_pkce and not app.trusted
    assert app.secret_digest is None and app.secret_sealed is None
    assert app.registered_via == "dynamic"
    assert app.registration_metadata == SPA
    assert app.redirect_uris == SPA["redirect_uris"] and app.scopes == "openid read_user"
    assert app.name == "My SPA" and app.main_url == "https://spa.example"
    owner = await db.get(User, app.owner_id)
    assert owner.email == apps.DYNAMIC_OWNER_EMAIL
    assert app.access_token_ttl is None


@pytest.mark.rfc("7591 2")
async def test_defaults_fit_the_public_profile(browser: Browser, db: Any) -> None:
    body = (await register(browser, {"redirect_uris": ["https://spa.example/cb"]})).json()
    assert body["client_name"] == "Unnamed app"
    assert body["token_endpoint_auth_method"] == "none"
    assert body["grant_types"] == ["authorization_code"]
    assert body["response_types"] == ["code"]
    assert body["scope"] == "openid read_user"
    assert "client_uri" not in body
    # Metadata Frontdesk does not understand is ignored (§2), and not echoed.
    other = await register(
        browser, {"redirect_uris": ["https://spa.example/cb"], "logo_uri": "https://x", "software_id": "s"}
    )
    assert other.status_code == 201 and "logo_uri" not in other.json()
    # Both apps belong to the same system user, who cannot log in.
    owners = {(await db.get(App, b["client_id"])).owner_id for b in (body, other.json())}
    assert len(owners) == 1
    owner = await db.get(User, owners.pop())
    assert not owner.password_hash.startswith("$argon2")
    assert (
        await browser.login(apps.DYNAMIC_OWNER_EMAIL, "!no-password:dynamic-registration")
    ).status_code == 401


async def test_refresh_token_grant_opts_in_to_expiring_tokens(browser: Browser, db: Any) -> None:
    body = (
        await register(
            browser,
            {
                "redirect_uris": ["https://spa.example/cb"],
                "grant_types": ["authorization_code", "refresh_token"],
            },
        )
    ).json()
    assert body["grant_types"] == ["authorization_code", "refresh_token"]
    assert (await db.get(App, body["client_id"])).access_token_ttl == 3600


@pytest.mark.rfc("7591 3.2.2")
@pytest.mark.parametrize(
    "uris",
    [
        ["http://spa.example/cb"],
        ["https://spa.example/cb#frag"],
        ["javascript:alert(1)"],
        ["https://user@spa.example/cb"],
        ["relative/cb"],
        ["https://spa.example/cb", "https://spa.example/cb"],
        [],
        "https://spa.example/cb",
        [42],
        None,
    ],
)
async def test_bad_redirect_uris(browser: Browser, db: Any, uris: Any) -> None:
    body = {**SPA, "redirect_uris": uris}
    if uris is None:
        del body["redirect_uris"]
    response = await register(browser, body)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_redirect_uri"
    assert response.headers["cache-control"] == "no-store"
    assert (await db.execute(select(App))).first() is None


@pytest.mark.rfc("7591 3.2.2")
@pytest.mark.parametrize(
    "change",
    [
        {"scope": "read_user bogus"},
        {"scope": "signin"},  # restricted to trusted apps
        {"scope": 'read_user "quoted"'},
        {"scope": ["read_user"]},
        {"token_endpoint_auth_method": "client_secret_basic"},
        {"token_endpoint_auth_method": "client_secret_post"},
        {"token_endpoint_auth_method": "private_key_jwt"},
        {"grant_types": ["authorization_code", "password"]},
        {"grant_types": ["client_credentials"]},
        {"grant_types": ["implicit"]},
        {"grant_types": ["refresh_token"]},
        {"grant_types": "authorization_code"},
        {"response_types": ["token"]},
        {"response_types": ["code", "id_token"]},
        {"client_name": "x" * 101},
        {"client_name": 7},
        {"client_name": "bad\x00name"},
        {"client_uri": "javascript:alert(1)"},
        {"client_uri": "https://user:pw@spa.example"},
        {"client_uri": "not a url"},
    ],
)
async def test_bad_client_metadata(browser: Browser, db: Any, change: dict[str, Any]) -> None:
    response = await register(browser, {**SPA, **change})
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_client_metadata"
    assert response.json()["error_description"]
    assert (await db.execute(select(App))).first() is None


@pytest.mark.rfc("7591 3.2.2")
async def test_confidential_clients_are_refused_with_a_reason(browser: Browser) -> None:
    response = await register(browser, {**SPA, "token_endpoint_auth_method": "client_secret_basic"})
    assert response.status_code == 400
    assert "public clients" in response.json()["error_description"]


@pytest.mark.rfc("7591 3.1")
async def test_body_must_be_a_json_object(browser: Browser) -> None:
    cases = [
        await browser.post(REGISTER, data={"redirect_uris": "https://spa.example/cb"}),
        await browser.post(REGISTER, content=b"{not json", headers={"content-type": "application/json"}),
        await browser.post(REGISTER, content=b"[]", headers={"content-type": "application/json"}),
    ]
    for response in cases:
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_client_metadata"
    # A body over FRONTDESK_MAX_BODY_BYTES is refused before it is read (web/limits.py).
    too_large = await browser.post(
        REGISTER, content=b'{"x": "' + b"a" * 70000 + b'"}', headers={"content-type": "application/json"}
    )
    assert too_large.status_code == 413
    assert too_large.json()["error"] == "invalid_request"


async def test_other_methods(browser: Browser) -> None:
    response = await browser.get(REGISTER)
    assert response.status_code == 405 and response.headers["allow"] == "POST"


@pytest.mark.parametrize("settings_overrides", [{"dynamic_registration": False}])
async def test_switched_off(browser: Browser, db: Any) -> None:
    assert (await register(browser, SPA)).status_code == 404
    assert (await browser.get(REGISTER)).status_code == 404
    assert (await db.execute(select(App))).first() is None


@pytest.mark.parametrize("settings_overrides", [{"dynamic_registration_rate_limit": "2/hour"}])
async def test_rate_limited_per_address(new_browser: Any) -> None:
    first = new_browser(client_ip="203.0.113.1")
    for _ in range(2):
        assert (await register(first, SPA)).status_code == 201
    # Invalid requests do not use up the allowance, and are still answered as invalid.
    assert (await register(first, {**SPA, "scope": "bogus"})).status_code == 400
    limited = await register(first, SPA)
    assert limited.status_code == 429
    assert limited.json()["error"] == "too_many_requests"
    # The allowance comes back when the first of the two registrations leaves the hour.
    assert 3500 <= int(limited.headers["retry-after"]) <= 3600
    # Another address is unaffected, on any host.
    other = new_browser(client_ip="203.0.113.2")
    assert (await register(other, SPA)).status_code == 201


@pytest.mark.rfc("7636 4")
async def test_registered_client_completes_a_pkce_code_flow(
    browser: Browser, logged_in: Browser, db: Any
) -> None:
    body = (await register(browser, {**SPA, "scope": "read_user"})).json()
    client = RegisteredApp(body["client_id"], None, "", SPA["redirect_uris"][0])
    verifier = "v" * 64
    code = await get_code(logged_in, client, code_challenge=pkce.s256(verifier), code_challenge_method="S256")
    response = await logged_in.post(
        TOKEN_URL,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": client.client_id,
            "redirect_uri": client.redirect_uri,
            "code_verifier": verifier,
        },
    )
    assert response.status_code == 200, response.text
    token = response.json()
    assert token["token_type"].lower() == "bearer" and token["scope"] == "read_user"
    me = await logged_in.get("/api/user", headers={"authorization": f"Bearer {token['access_token']}"})
    assert me.status_code == 200 and me.json()["email"] == "pat@example.com"


@pytest.mark.rfc("9700 2.1.1")
async def test_registered_client_needs_pkce(logged_in: Browser, browser: Browser) -> None:
    body = (await register(browser, SPA)).json()
    client = RegisteredApp(body["client_id"], None, "", SPA["redirect_uris"][0])
    response = await logged_in.get(
        "/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": client.redirect_uri,
            "state": "xyz",
        },
    )
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(client.redirect_uri + "?")
    assert query(location)["error"] == "invalid_request" and "code" not in query(location)


def test_validation_unit() -> None:
    meta = validate_client_metadata({"redirect_uris": ["com.example.app:/cb"], "scope": "openid,email"})
    assert meta.redirect_uris == ("com.example.app:/cb",) and meta.scope == ("openid", "email")
    with pytest.raises(InvalidRedirectUriMetadata):
        validate_client_metadata({"redirect_uris": ["https://a.test/cb#x"]})
    with pytest.raises(InvalidClientMetadata):
        validate_client_metadata({"redirect_uris": ["https://a.test/cb"], "grant_types": ["refresh_token"]})
    with pytest.raises(InvalidClientMetadata):
        validate_client_metadata(
            {"redirect_uris": ["https://a.test/cb"], "grant_types": ["authorization_code", "refresh_token"]},
            grant_types=("authorization_code",),
        )
