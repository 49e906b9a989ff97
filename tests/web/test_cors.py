"""CORS: on the machine endpoints browser apps call, never on the authorization endpoint or
pages (RFC 9700 §2.6; checklist item 6)."""

from __future__ import annotations

from typing import Any

import pytest

from frontdesk.services import accounts, spaces
from tests.support import PASSWORD, Browser

ORIGIN = {"origin": "https://evil.test"}
HOSTS = ["localhost:8000", "co-up.localhost:8000", "members.example.test:8000"]
CORS_ENDPOINTS = [
    ("POST", "/oauth/access_token"),
    ("POST", "/oauth/token"),
    ("POST", "/oauth/revoke"),
    ("POST", "/oauth/introspect"),
    ("POST", "/oauth/register"),
    ("GET", "/.well-known/oauth-authorization-server"),
    ("GET", "/.well-known/openid-configuration"),
    ("GET", "/jwks.json"),
    ("GET", "/api/user"),
    ("GET", "/api/spaces/co-up"),
    ("GET", "/api/nothing-here"),
]
NO_CORS = [
    "/oauth/authorize",
    "/",
    "/login",
    "/signup",
    "/oauth2_clients",
    "/healthz",
    "/static/frontdesk.css",
]


@pytest.fixture
async def space_hosts(state: Any, db: Any) -> None:
    owner = await accounts.create_user(db, state.passwords, email="owner@example.com", password=PASSWORD)
    await db.commit()
    await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=owner)
    await db.commit()
    await spaces.create_space(
        db,
        state.settings,
        subdomain="harbour",
        name="Harbour",
        owner=owner,
        custom_domain="members.example.test",
    )
    await db.commit()


def assert_no_cors(response: Any) -> None:
    leaked = [h for h in response.headers if h.lower().startswith("access-control-")]
    assert not leaked, (response.request.url, leaked)


@pytest.mark.rfc("9700 2.6")
@pytest.mark.parametrize(("method", "path"), CORS_ENDPOINTS)
async def test_cors_on_machine_endpoints(space_hosts: None, browser: Browser, method: str, path: str) -> None:
    response = await browser.http.request(method, path, headers=ORIGIN)
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-expose-headers"] == "WWW-Authenticate, Retry-After, DPoP-Nonce"
    assert "access-control-allow-credentials" not in response.headers


async def test_errors_are_readable_cross_origin(browser: Browser) -> None:
    response = await browser.get("/api/user", headers={**ORIGIN, "authorization": "Bearer nope"})
    assert response.status_code == 401 and "www-authenticate" in response.headers
    assert response.headers["access-control-allow-origin"] == "*"
    token = await browser.post("/oauth/access_token", data={"grant_type": "nope"}, headers=ORIGIN)
    assert token.status_code == 400 and token.headers["access-control-allow-origin"] == "*"


@pytest.mark.rfc("9700 2.6")
@pytest.mark.checklist(6)
@pytest.mark.parametrize("path", NO_CORS)
async def test_no_cors_on_the_authorization_endpoint_and_pages(browser: Browser, path: str) -> None:
    assert_no_cors(await browser.get(path, headers=ORIGIN))
    assert_no_cors(await browser.post(path, headers=ORIGIN))
    preflight = await browser.http.options(
        path,
        headers={**ORIGIN, "access-control-request-method": "POST", "access-control-request-headers": "x"},
    )
    assert preflight.status_code == 405  # no preflight answered: OPTIONS is no method of a page
    assert_no_cors(preflight)


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/oauth/access_token", "POST"),
        ("/oauth/register", "POST"),
        ("/oauth/revoke", "POST"),
        ("/.well-known/openid-configuration", "GET, HEAD"),
        ("/jwks.json", "GET, HEAD"),
        ("/api/user", "GET, HEAD, POST, PUT, PATCH, DELETE"),
    ],
)
async def test_preflight_on_every_host(
    space_hosts: None, new_browser: Any, host: str, path: str, methods: str
) -> None:
    b: Browser = new_browser(host)
    response = await b.http.options(
        path,
        headers={
            "origin": "https://spa.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-allow-methods"] == methods
    allowed = {h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed
    assert int(response.headers["access-control-max-age"]) > 0
    assert "access-control-allow-credentials" not in response.headers
    assert response.content == b""


async def test_preflight_on_an_unknown_host_is_404(new_browser: Any) -> None:
    response = await new_browser("evil.test").http.options(
        "/oauth/access_token", headers={**ORIGIN, "access-control-request-method": "POST"}
    )
    assert response.status_code == 404
    assert_no_cors(response)


async def test_cross_origin_registration_works(browser: Browser) -> None:
    response = await browser.post(
        "/oauth/register", json={"redirect_uris": ["https://spa.example/cb"]}, headers=ORIGIN
    )
    assert response.status_code == 201
    assert response.headers["access-control-allow-origin"] == "*"
