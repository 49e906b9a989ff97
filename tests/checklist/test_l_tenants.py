"""L. Multi-tenant host handling (checklist items 40–43)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.checklist.support import bearer, password_grant
from tests.oauth_support import RegisteredApp, authorize_params, exchange, get_code, query
from tests.support import PASSWORD, Browser

METADATA = "/.well-known/oauth-authorization-server"


async def brand(b: Browser, host: str, **headers: str) -> tuple[int, str]:
    response = await b.get("/", headers={"host": host, **headers})
    if response.status_code != 200:
        return response.status_code, ""
    return 200, response.text.split('class="brand" href="/">', 1)[1].split("<", 1)[0]


@pytest.mark.rfc("9700 4.13")
async def test_item_40_tenant_resolution(tenants: Any, browser: Browser) -> None:
    """Hosts are normalised (case, port, trailing dot); only the main host, ``<space>.<base>``
    and registered custom domains are served; anything else is 404, never a default tenant;
    ``X-Forwarded-Host`` from a client that is no trusted proxy is ignored."""
    for host in (
        "evil.test",
        "nope.localhost:8000",
        "a.co-up.localhost",
        "co-up.localhost.evil.test",
        "localhost.evil.test",
    ):
        response = await browser.get("/", headers={"host": host})
        assert response.status_code in (404, 421), host
        assert "Co-Up" not in response.text and "Harbour" not in response.text
        metadata = await browser.get(METADATA, headers={"host": host})
        assert metadata.status_code in (404, 421), host
        token = await browser.post("/oauth/access_token", data={"grant_type": "x"}, headers={"host": host})
        assert token.status_code in (404, 421), host
    for host in ("co-up.localhost:8000", "CO-UP.localhost.", "Co-Up.LocalHost.:8000", "co-up.localhost:1"):
        assert await brand(browser, host) == (200, "Co-Up"), host
    for host in ("members.harbour.test", "MEMBERS.Harbour.TEST.:8000", "harbour.localhost:8000"):
        assert await brand(browser, host) == (200, "Harbour"), host
    assert await brand(browser, "localhost:8000", **{"x-forwarded-host": "co-up.localhost"}) == (
        200,
        "Frontdesk",
    )
    spoofed = await browser.get("/", headers={"host": "evil.test", "x-forwarded-host": "co-up.localhost"})
    assert spoofed.status_code == 404
    issuer = (await browser.get(METADATA, headers={"x-forwarded-host": "co-up.localhost:8000"})).json()[
        "issuer"
    ]
    assert issuer == "http://localhost:8000"


@pytest.mark.rfc("9700 4.13")
@pytest.mark.parametrize("settings_overrides", [{"trusted_proxies": ["198.51.100.0/24"]}])
async def test_item_40_forwarded_host_from_the_trusted_proxy(tenants: Any, browser: Browser) -> None:
    assert await brand(browser, "internal:8000", **{"x-forwarded-host": "CO-UP.localhost.:8000"}) == (
        200,
        "Co-Up",
    )
    unknown = await browser.get("/", headers={"host": "localhost:8000", "x-forwarded-host": "evil.test"})
    assert unknown.status_code == 404


@pytest.mark.rfc("8414 2")
@pytest.mark.rfc("9700 4.13")
async def test_item_41_absolute_urls_come_from_configuration(
    tenants: Any, browser: Browser, person: Any, registered: RegisteredApp
) -> None:
    """Spoofed ``Host`` spellings and ``X-Forwarded-Host`` never reach an absolute URL: the
    issuer, ``iss``, API links and login redirects use the configured canonical origins."""
    for host, issuer in (
        ("LOCALHOST.:9999", "http://localhost:8000"),
        ("127.0.0.1:8000", "http://localhost:8000"),
        ("www.localhost", "http://localhost:8000"),
        ("CO-UP.localhost.:1234", "http://co-up.localhost:8000"),
        ("members.harbour.test:7777", "http://members.harbour.test:8000"),
    ):
        headers = {"host": host, "x-forwarded-host": "evil.test", "x-forwarded-proto": "https"}
        doc = (await browser.get(METADATA, headers=headers)).json()
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
    assert query(redirected.headers["location"])["iss"] == "http://localhost:8000"


@pytest.mark.rfc("9700 4.4")
async def test_item_42_cross_tenant_isolation(
    tenants: Any, new_browser: Any, person: Any, registered: RegisteredApp
) -> None:
    """A code minted on space A cannot be redeemed at space B's token endpoint; a space-A token
    is refused on B; a user token reaches only spaces where its user is a member."""
    co_up: Browser = new_browser("co-up.localhost:8000")
    assert (await co_up.login("pat@example.com")).status_code == 303
    for other in ("quay.localhost:8000", "members.harbour.test:8000"):
        code = await get_code(co_up, registered)
        stolen = await exchange(new_browser(other), registered, code)
        assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant", other
        burned = await exchange(co_up, registered, code)
        assert burned.status_code == 400 and burned.json()["error"] == "invalid_grant"
    code = await get_code(co_up, registered)
    user_token = (await exchange(co_up, registered, code)).json()["access_token"]
    space = await co_up.post(f"/api/access_tokens/{user_token}/space", json={"space_id": "co-up"})
    assert space.status_code == 201
    space_token = space.json()["token"]
    harbour: Browser = new_browser("members.harbour.test:8000")
    quay: Browser = new_browser("quay.localhost:8000")
    assert (await co_up.get("/api/memberships", headers=bearer(space_token))).status_code == 200
    assert (await harbour.get("/api/memberships", headers=bearer(space_token))).status_code == 403
    assert (await quay.get("/api/memberships", headers=bearer(space_token))).status_code == 403
    assert (
        await harbour.get("/api/memberships", headers=bearer(user_token))
    ).status_code == 200  # Pat's space
    assert (await quay.get("/api/memberships", headers=bearer(user_token))).status_code == 403  # Olga's
    memberships = await quay.get("/api/memberships/" + "0" * 32, headers=bearer(user_token))
    assert memberships.status_code in (403, 404)
    # A space token cannot be turned into a token for another space.
    again = await co_up.post(f"/api/access_tokens/{space_token}/space", json={"space_id": "harbour"})
    assert again.status_code in (400, 403)
    olga_space = await co_up.post(f"/api/access_tokens/{user_token}/space", json={"space_id": "quay"})
    assert olga_space.status_code == 403


@pytest.mark.rfc("6265bis 4.1.3.2")
@pytest.mark.parametrize("settings_overrides", [{"public_url": "https://frontdesk.test"}])
async def test_item_43_cookies_are_host_only(tenants: Any, new_browser: Any) -> None:
    """Every cookie is host-only (no ``Domain``), ``__Host-``-prefixed, Secure, ``Path=/``; a
    session made on one space's host is worthless on another's, even when presented there
    (that Chromium never sends it there is tests/browser/test_space_cookies.py)."""
    co_up: Browser = new_browser("co-up.frontdesk.test", scheme="https")
    login = await co_up.submit("/login", {"email": "pat@example.com", "password": PASSWORD})
    assert login.status_code == 303
    names = set()
    for cookie in login.headers.get_list("set-cookie"):
        name, _, _rest = cookie.partition("=")
        names.add(name)
        attrs = {a.strip().lower() for a in cookie.split(";")[1:]}
        assert name.startswith("__Host-"), cookie
        assert {"secure", "path=/", "httponly"} <= attrs, cookie
        assert not any(a.startswith("domain") for a in attrs), cookie
    assert "__Host-frontdesk_session" in names
    assert "Log out" in (await co_up.get("/")).text
    session = co_up.http.cookies["__Host-frontdesk_session"]
    for host in ("harbour.frontdesk.test", "members.harbour.test", "frontdesk.test", "quay.frontdesk.test"):
        other: Browser = new_browser(host, scheme="https")
        page = await other.get("/", headers={"cookie": f"__Host-frontdesk_session={session}"})
        assert page.status_code == 200 and "Log out" not in page.text, host
        admin = await other.get("/admin/members", headers={"cookie": f"__Host-frontdesk_session={session}"})
        assert admin.status_code in (303, 404), host
