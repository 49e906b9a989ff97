"""HTTPS enforcement behind a TLS-terminating proxy (RFC 6749 §3.1, §3.2; RFC 6750 §5.3;
RFC 9700 §4.13; checklist item 39)."""

from __future__ import annotations

from typing import Any

import pytest

from frontdesk.services import accounts, spaces
from tests.support import PASSWORD, Browser

PROXY = "198.51.100.7"  # the test browser's default address
HTTPS = {"public_url": "https://frontdesk.test", "trusted_proxies": [PROXY]}
USE_HTTPS = {"error": "invalid_request", "error_description": "use https"}
PLAIN = {"x-forwarded-proto": "http"}
TLS = {"x-forwarded-proto": "https"}
HSTS = "max-age=31536000; includeSubDomains"

pytestmark = pytest.mark.rfc("6749 3.1")


@pytest.fixture
async def space(state: Any, db: Any) -> Any:
    owner = await accounts.create_user(db, state.passwords, email="owner@example.com", password=PASSWORD)
    space = await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=owner)
    await db.commit()
    return space


@pytest.fixture
def proxy(new_browser: Any) -> Browser:
    """Requests reaching Frontdesk through the trusted proxy."""
    b: Browser = new_browser("frontdesk.test")
    return b


def refused(response: Any) -> bool:
    return (
        response.status_code == 400
        and response.json() == USE_HTTPS
        and "location" not in response.headers
        and response.headers["cache-control"] == "no-store"
    )


@pytest.mark.rfc("6749 1.6")
@pytest.mark.rfc("6750 5.3")
@pytest.mark.rfc("9700 4.13")
@pytest.mark.checklist(39)
@pytest.mark.parametrize("settings_overrides", [HTTPS])
async def test_credentials_over_plain_http_are_refused_not_redirected(proxy: Browser, space: Any) -> None:
    """What Frontdesk itself does behind its TLS-terminating proxy: credential requests that
    reached the proxy over plain http are refused, not redirected (the TLS configuration itself
    belongs to the proxy; revoking a token seen over http is optional and not done)."""
    token_form = {"grant_type": "password", "username": "owner@example.com", "password": PASSWORD}
    assert refused(await proxy.post("/oauth/access_token", data=token_form, headers=PLAIN))
    assert refused(await proxy.post("/oauth/token", data=token_form, headers=PLAIN))
    assert refused(await proxy.post("/oauth/revoke", data={"token": "x"}, headers=PLAIN))
    assert refused(await proxy.post("/oauth/introspect", data={"token": "x"}, headers=PLAIN))
    assert refused(await proxy.post("/oauth/register", json={"redirect_uris": []}, headers=PLAIN))
    assert refused(await proxy.get("/api/user", headers={**PLAIN, "authorization": "Bearer fdat_x"}))
    assert refused(await proxy.get("/api/user", params={"access_token": "fdat_x"}, headers=PLAIN))
    assert refused(await proxy.get("/api/spaces/co-up", params={"access_token": "fdat_x"}, headers=PLAIN))
    assert refused(await proxy.get("/api/spaces/co-up", headers=PLAIN))  # API clients fix their URL
    assert refused(await proxy.get("/?access_token=fdat_x", headers=PLAIN))
    assert refused(await proxy.get("/", headers={**PLAIN, "authorization": "Basic eDp5"}))
    for method in ("PUT", "PATCH", "DELETE"):
        assert refused(await proxy.http.request(method, "/api/spaces/co-up", headers=PLAIN))
    # The login, sign-up and consent pages: not even shown over http.
    assert refused(await proxy.get("/login", headers=PLAIN))
    assert refused(await proxy.get("/signup", headers=PLAIN))
    assert refused(await proxy.post("/login", data={"email": "a", "password": "b"}, headers=PLAIN))
    assert refused(await proxy.get("/oauth/authorize?response_type=code&client_id=x", headers=PLAIN))


@pytest.mark.checklist(39)
@pytest.mark.parametrize("settings_overrides", [HTTPS])
async def test_other_pages_are_redirected_with_308(proxy: Browser, space: Any, new_browser: Any) -> None:
    home = await proxy.get("/?a=1&b=2", headers=PLAIN)
    assert home.status_code == 308 and home.headers["location"] == "https://frontdesk.test/?a=1&b=2"
    meta = await proxy.get("/.well-known/openid-configuration", headers=PLAIN)
    assert meta.status_code == 308
    assert meta.headers["location"] == "https://frontdesk.test/.well-known/openid-configuration"
    # The target is the host's canonical origin from configuration, never the Host header.
    odd = await proxy.get("/", headers={**PLAIN, "host": "FRONTDESK.TEST.:80"})
    assert odd.headers["location"] == "https://frontdesk.test/"
    on_space = await new_browser("co-up.frontdesk.test").get("/spaces/x", headers=PLAIN)
    assert (
        on_space.status_code == 308
        and on_space.headers["location"] == "https://co-up.frontdesk.test/spaces/x"
    )
    # Load balancers may probe over plain http.
    assert (await proxy.get("/healthz", headers=PLAIN)).status_code == 200


@pytest.mark.checklist(39)
@pytest.mark.parametrize("settings_overrides", [HTTPS])
async def test_https_through_the_proxy_works(proxy: Browser, space: Any) -> None:
    login = await proxy.get("/login", headers=TLS)
    assert login.status_code == 200
    assert login.headers["strict-transport-security"] == HSTS
    token = await proxy.post("/oauth/access_token", data={"grant_type": "nope"}, headers=TLS)
    assert token.status_code == 400 and token.json()["error"] == "unsupported_grant_type"
    assert token.headers["strict-transport-security"] == HSTS
    api = await proxy.get("/api/spaces/co-up", headers=TLS)
    assert api.status_code == 200 and api.headers["strict-transport-security"] == HSTS


@pytest.mark.rfc("9700 4.13")
@pytest.mark.checklist(39)
@pytest.mark.parametrize("settings_overrides", [HTTPS])
async def test_forged_forwarded_proto_from_an_untrusted_peer_is_ignored(new_browser: Any, space: Any) -> None:
    stranger: Browser = new_browser("frontdesk.test", client_ip="203.0.113.9")
    token_form = {"grant_type": "password", "username": "owner@example.com", "password": PASSWORD}
    assert refused(await stranger.post("/oauth/access_token", data={"grant_type": "nope"}, headers=TLS))
    assert refused(await stranger.post("/oauth/token", data=token_form, headers=TLS))
    assert refused(await stranger.get("/api/user", headers={**TLS, "authorization": "Bearer fdat_x"}))
    assert refused(await stranger.get("/login", headers=TLS))
    # The same peer connecting with TLS itself is served.
    direct: Browser = new_browser("frontdesk.test", scheme="https", client_ip="203.0.113.9")
    response = await direct.post("/oauth/access_token", data={"grant_type": "nope"})
    assert response.json()["error"] == "unsupported_grant_type"
    assert response.headers["strict-transport-security"] == HSTS
    # And a proxy saying "http" about a TLS connection is believed: it knows the client's side.
    trusted_tls: Browser = new_browser("frontdesk.test", scheme="https")
    assert refused(await trusted_tls.get("/login", headers=PLAIN))


@pytest.mark.parametrize("settings_overrides", [HTTPS])
async def test_refusals_are_readable_by_browser_apps(proxy: Browser) -> None:
    response = await proxy.post(
        "/oauth/access_token", data={"grant_type": "nope"}, headers={**PLAIN, "origin": "https://spa.example"}
    )
    assert refused(response) and response.headers["access-control-allow-origin"] == "*"


async def test_development_over_http_is_unchanged(browser: Browser) -> None:
    login = await browser.get("/login", headers=PLAIN)
    assert login.status_code == 200
    assert "strict-transport-security" not in login.headers
    token = await browser.post("/oauth/access_token", data={"grant_type": "nope"})
    assert token.json()["error"] == "unsupported_grant_type"
    assert (await browser.get("/")).status_code == 200
