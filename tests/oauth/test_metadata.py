"""Authorization server metadata (RFC 8414) and OpenID discovery, one issuer per host."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.oidc.discovery import OpenIDProviderMetadata

from frontdesk.oauth.metadata import Capabilities, build_metadata
from frontdesk.services import spaces
from tests.oauth_support import RegisteredApp, authorize_params, bearer, consent, password_grant, query
from tests.support import Browser

PATHS = ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]
HOSTS = [
    ("localhost:8000", "http://localhost:8000"),
    ("co-up.localhost:8000", "http://co-up.localhost:8000"),
    ("members.example.test:8000", "http://members.example.test:8000"),
]
ENDPOINTS = {
    "authorization_endpoint": "/oauth/authorize",
    "token_endpoint": "/oauth/access_token",
    "revocation_endpoint": "/oauth/revoke",
    "introspection_endpoint": "/oauth/introspect",
    "registration_endpoint": "/oauth/register",
    "userinfo_endpoint": "/api/userinfo",
    "jwks_uri": "/jwks.json",
}


@pytest.fixture
async def space_hosts(state: Any, db: Any, person: Any) -> None:
    await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=person)
    await db.commit()
    await spaces.create_space(
        db,
        state.settings,
        subdomain="harbour",
        name="Harbour",
        owner=person,
        custom_domain="members.example.test",
    )
    await db.commit()


async def fetch(new_browser: Any, host: str, path: str = PATHS[0], scheme: str = "http") -> dict[str, Any]:
    b: Browser = new_browser(host, scheme=scheme)
    response = await b.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "public, max-age=300"
    body: dict[str, Any] = response.json()
    return body


def validate(doc: dict[str, Any]) -> None:
    AuthorizationServerMetadata(doc).validate()
    OpenIDProviderMetadata(doc).validate()


@pytest.mark.rfc("8414 2")
@pytest.mark.rfc("8414 3")
@pytest.mark.rfc("9700 2.6")
@pytest.mark.checklist(37)
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(("host", "issuer"), HOSTS)
async def test_every_host_is_its_own_issuer(
    space_hosts: None, new_browser: Any, host: str, issuer: str, path: str
) -> None:
    doc = await fetch(new_browser, host, path)
    assert doc["issuer"] == issuer  # exactly the serving origin, no trailing slash
    for name, endpoint in ENDPOINTS.items():
        assert doc[name] == issuer + endpoint
    assert doc["response_types_supported"] == ["code"]
    assert doc["response_modes_supported"] == ["query"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert doc["subject_types_supported"] == ["public"]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    methods = ["client_secret_basic", "client_secret_post", "none", "private_key_jwt"]
    assert doc["token_endpoint_auth_methods_supported"] == methods
    assert doc["revocation_endpoint_auth_methods_supported"] == methods
    assert doc["introspection_endpoint_auth_methods_supported"] == methods
    # RFC 8414 §2: private_key_jwt's algorithms; never "none" nor a MAC (client_secret_jwt).
    algs = ["PS256", "ES256", "ES384", "RS256", "EdDSA", "Ed25519"]
    for endpoint in ("token", "revocation", "introspection"):
        assert doc[f"{endpoint}_endpoint_auth_signing_alg_values_supported"] == algs
    assert ("space" in doc["claims_supported"]) == (host != "localhost:8000")


@pytest.mark.rfc("8414 3.3")
@pytest.mark.checklist(37)
async def test_both_paths_answer_the_same_document(space_hosts: None, new_browser: Any) -> None:
    for host, _ in HOSTS:
        assert await fetch(new_browser, host, PATHS[0]) == await fetch(new_browser, host, PATHS[1])


@pytest.mark.rfc("8414 2")
@pytest.mark.parametrize(("host", "issuer"), HOSTS)
async def test_documents_pass_authlib_validation_in_development(
    space_hosts: None, new_browser: Any, monkeypatch: pytest.MonkeyPatch, host: str, issuer: str
) -> None:
    # Authlib demands https issuers; development serves http, so only that check is relaxed
    # here. The https deployment below is validated without it.
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    for path in PATHS:
        validate(await fetch(new_browser, host, path))


@pytest.mark.rfc("8414 2")
@pytest.mark.checklist(37)
@pytest.mark.parametrize("settings_overrides", [{"public_url": "https://frontdesk.test"}])
@pytest.mark.parametrize(
    ("host", "issuer"),
    [
        ("frontdesk.test", "https://frontdesk.test"),
        ("co-up.frontdesk.test", "https://co-up.frontdesk.test"),
        ("members.example.test", "https://members.example.test"),
    ],
)
async def test_documents_pass_strict_authlib_validation_over_https(
    space_hosts: None, new_browser: Any, monkeypatch: pytest.MonkeyPatch, host: str, issuer: str
) -> None:
    monkeypatch.delenv("AUTHLIB_INSECURE_TRANSPORT", raising=False)
    for path in PATHS:
        doc = await fetch(new_browser, host, path, scheme="https")
        assert doc["issuer"] == issuer
        validate(doc)


@pytest.mark.rfc("8414 2")
@pytest.mark.rfc("9700 4.13")
@pytest.mark.checklist(41)
async def test_absolute_urls_come_from_configuration_not_the_host_header(
    space_hosts: None, browser: Browser, person: Any, registered: RegisteredApp
) -> None:
    """Spoofed ``Host`` spellings and ``X-Forwarded-Host`` never reach an absolute URL: the
    issuer, ``iss``, API links and login redirects use the configured canonical origins."""
    for host, issuer in (
        ("LOCALHOST.:9999", "http://localhost:8000"),
        ("localhost:1234", "http://localhost:8000"),
        ("127.0.0.1:8000", "http://localhost:8000"),
        ("www.localhost", "http://localhost:8000"),
        ("www.localhost:8000", "http://localhost:8000"),
        ("co-up.localhost:8000", "http://co-up.localhost:8000"),
        ("CO-UP.localhost.:1234", "http://co-up.localhost:8000"),
        ("members.example.test:7777", "http://members.example.test:8000"),
    ):
        headers = {"host": host, "x-forwarded-host": "evil.test", "x-forwarded-proto": "https"}
        response = await browser.get(PATHS[0], headers=headers)
        assert response.status_code == 200, host
        doc = response.json()
        assert doc["issuer"] == issuer, host
        assert all(v.startswith(issuer + "/") for k, v in doc.items() if k.endswith(("_endpoint", "_uri"))), (
            host
        )
        login = await browser.get("/oauth/authorize", params=authorize_params(registered), headers=headers)
        assert login.status_code == 303 and login.headers["location"].startswith("/login?"), host
    token = (await password_grant(browser, registered)).json()["access_token"]
    me = await browser.get(
        "/api/user", headers={**bearer(token), "host": "LocalHost.:4444", "x-forwarded-host": "evil.test"}
    )
    assert me.status_code == 200
    links = [m["space_link"] for m in me.json()["admin_of"]]
    assert sorted(links) == [
        "http://localhost:8000/api/spaces/co-up",
        "http://localhost:8000/api/spaces/harbour",
    ]
    assert "evil" not in me.text and "4444" not in me.text
    # A logged-in person on an odd spelling of the main host: ``iss`` is still the issuer.
    assert (await browser.login("pat@example.com")).status_code == 303
    redirected = await browser.get(
        "/oauth/authorize",
        params=authorize_params(registered, scope="bogus"),
        headers={"host": "LOCALHOST.:9999"},
    )
    assert redirected.status_code == 302
    assert query(redirected.headers["location"])["iss"] == "http://localhost:8000"


async def test_unknown_host_gets_404(new_browser: Any) -> None:
    for host in ("evil.test", "nope.localhost:8000"):
        for path in PATHS:
            response = await new_browser(host).get(path)
            assert response.status_code == 404
            assert "access-control-allow-origin" not in response.headers


@pytest.mark.rfc("8414 2")
@pytest.mark.checklist(37)
async def test_scopes_grants_and_claims(browser: Browser, state: Any) -> None:
    doc = (await browser.get(PATHS[1])).json()
    assert "signin" not in doc["scopes_supported"]  # restricted to trusted apps
    assert {"openid", "read_user", "read", "write", "email", "profile"} <= set(doc["scopes_supported"])
    assert doc["grant_types_supported"] == state.oauth.token.grant_types
    assert {"authorization_code", "password"} <= set(doc["grant_types_supported"])
    assert {"sub", "iss", "aud", "email", "name"} <= set(doc["claims_supported"])
    assert "space" not in doc["claims_supported"]
    assert doc["request_uri_parameter_supported"] is False


async def test_password_grant_listed_only_when_enabled(browser: Browser, state: Any) -> None:
    state.oauth.config = dataclasses.replace(state.oauth.config, password_grant_enabled=False)
    doc = (await browser.get(PATHS[0])).json()
    assert "password" not in doc["grant_types_supported"]
    assert "authorization_code" in doc["grant_types_supported"]


@pytest.mark.parametrize("settings_overrides", [{"dynamic_registration": False}])
async def test_no_registration_endpoint_when_switched_off(browser: Browser) -> None:
    for path in PATHS:
        assert "registration_endpoint" not in (await browser.get(path)).json()


async def test_head_is_answered(browser: Browser) -> None:
    response = await browser.http.head(PATHS[0])
    assert response.status_code == 200 and response.content == b""


@pytest.mark.rfc("9207 2")
@pytest.mark.rfc("9700 4.4")
@pytest.mark.checklist(38)
@pytest.mark.parametrize(("host", "issuer"), HOSTS)
async def test_iss_in_every_authorization_response_equals_the_metadata_issuer(
    space_hosts: None, registered: RegisteredApp, new_browser: Any, host: str, issuer: str
) -> None:
    """Success, access_denied, invalid_scope, unsupported_response_type, login_required and
    consent_required all carry ``iss`` equal to that host's metadata issuer, exactly."""
    b: Browser = new_browser(host)
    assert (await fetch(new_browser, host))["issuer"] == issuer
    anonymous = await b.get("/oauth/authorize", params=authorize_params(registered, prompt="none"))
    assert anonymous.status_code == 302
    params = query(anonymous.headers["location"])
    assert params["error"] == "login_required" and params["iss"] == issuer and params["state"] == "xyz"
    assert (await b.login("pat@example.com")).status_code == 303
    answers = {
        "consent_required": (
            302,
            await b.get("/oauth/authorize", params=authorize_params(registered, prompt="none")),
        ),
        "invalid_scope": (
            302,
            await b.get("/oauth/authorize", params=authorize_params(registered, scope="bogus")),
        ),
        "unsupported_response_type": (
            302,
            await b.get("/oauth/authorize", params=authorize_params(registered, response_type="token")),
        ),
        "access_denied": (303, await consent(b, registered, decision="deny")),
        "code": (303, await consent(b, registered)),
    }
    for expected, (status, response) in answers.items():
        assert response.status_code == status, expected
        params = query(response.headers["location"])
        assert params["iss"] == issuer, expected
        assert (params.get("error") or "code") == expected
        assert params["state"] == "xyz"


def test_build_metadata_refuses_a_trailing_slash() -> None:
    caps = Capabilities(grant_types=("authorization_code",), scopes=("openid",))
    with pytest.raises(ValueError, match="trailing slash"):
        build_metadata("https://frontdesk.test/", caps)
    doc = build_metadata("https://frontdesk.test", caps)
    assert "registration_endpoint" not in doc and "service_documentation" not in doc
    validate(doc)
