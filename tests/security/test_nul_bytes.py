"""NUL characters in requests (issue 11, item 12): PostgreSQL text cannot hold them (each of
these was a 500 there, most without logging in) and SQLite stored them. They are refused at
the edge with 400 (web/limits.py; JSON strings in inputs.load_json): RFC 6749 §5.2 JSON
``invalid_request`` on protocol and API endpoints, a readable page elsewhere, including the
authorization endpoint (its client and redirect URI cannot be trusted)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import World
from tests.oauth_support import basic
from tests.support import PASSWORD, Browser

SPACE_HOST = "co-up.localhost:8000"
NUL = "a\x00b"


def refused_as_json(response: httpx.Response, error: str = "invalid_request") -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == error


def refused_as_page(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "NUL character" in response.text


async def test_unauthenticated_protocol_and_api_requests(browser: Browser, world: World) -> None:
    app = world.app
    assert app.client_secret is not None
    password_grant = {"grant_type": "password", "username": NUL, "password": PASSWORD}
    cases = [
        await browser.get("/api/spaces/a%00b"),
        await browser.get("/api/access_tokens/a%00b"),
        await browser.post(
            "/oauth/access_token", data={**password_grant, "client_id": app.client_id, "client_secret": "x"}
        ),
        await browser.post("/oauth/access_token", data={**password_grant, "username": "a", "client_id": NUL}),
        await browser.post("/oauth/access_token?username=a%00b", data={"grant_type": "password"}),
        await browser.post("/oauth/revoke", data={"token": "t", "client_id": NUL}),
        await browser.post("/oauth/introspect", data={"token": NUL}, headers=basic(app.client_id, "x")),
        await browser.post(
            "/oauth/access_token",
            content=b"grant_type=password&username=a%00b&client_id=x",
            headers={"content-type": "application/x-www-form-urlencoded"},
        ),
        await browser.post(
            "/oauth/revoke",
            files={"token": (None, "t"), "client_id": (None, NUL)},  # multipart/form-data
        ),
    ]
    for response in cases:
        refused_as_json(response)


async def test_authorization_endpoint_shows_an_error_page(browser: Browser, world: World) -> None:
    refused_as_page(await browser.get("/oauth/authorize", params={"response_type": "code", "client_id": NUL}))
    refused_as_page(
        await browser.get(
            "/oauth/authorize",
            params={"response_type": "code", "client_id": world.app.client_id, "state": NUL},
        )
    )
    refused_as_page(await browser.post("/oauth/authorize", data={"client_id": NUL, "decision": "approve"}))


async def test_domain_check(browser: Browser) -> None:
    response = await browser.get("/healthz/domain", params={"domain": "a\x00b.example"})
    assert response.status_code == 400


async def test_sign_up_and_log_in(browser: Browser) -> None:
    refused_as_page(await browser.submit("/signup", {"email": NUL + "@example.com", "password": PASSWORD}))
    refused_as_page(
        await browser.submit("/signup", {"email": "c@example.com", "password": PASSWORD, "name": NUL})
    )
    refused_as_page(await browser.submit("/login", {"email": NUL + "@example.com", "password": PASSWORD}))
    refused_as_page(await browser.get("/login", params={"next": "/" + NUL}))


async def test_logged_in_forms(browser: Browser, new_browser: Any, world: World) -> None:
    assert (await browser.login("owner@example.com")).status_code == 303
    refused_as_page(
        await browser.submit("/spaces/new", {"name": NUL, "subdomain": "nul", "custom_domain": ""})
    )
    refused_as_page(
        await browser.submit(
            "/oauth2_clients/new",
            {"name": NUL, "redirect_uris": "https://example.com/cb", "scope": ["read_user"]},
        )
    )
    admin: Browser = new_browser(SPACE_HOST)
    assert (await admin.login("owner@example.com")).status_code == 303
    refused_as_page(await admin.submit("/admin/settings", {"name": NUL, "custom_domain": ""}))
    refused_as_page(await admin.submit("/admin/members", {"email": NUL + "@example.com", "role": "member"}))


async def test_json_string_values(browser: Browser, world: World, issue: Any) -> None:
    token = await issue(world.admin, scopes="read_user navigation")
    link = {"section": "members", "label": NUL, "iframe_url": "https://app.example/embed"}
    on_space = {"authorization": f"Bearer {token}", "host": SPACE_HOST}
    refused_as_json(await browser.post("/api/navigation_links", json=link, headers=on_space))
    refused_as_json(await browser.post("/api/navigation_links", data=link, headers=on_space))
    refused_as_json(
        await browser.post("/api/navigation_links", json={NUL: "x", **link, "label": "L"}, headers=on_space)
    )
    refused_as_json(await browser.post(f"/api/access_tokens/{token}/space", json={"space_id": "co\x00up"}))
    registration = {
        "client_name": NUL,
        "redirect_uris": ["https://spa.example/cb"],
        "token_endpoint_auth_method": "none",
    }
    refused_as_json(await browser.post("/oauth/register", json=registration), "invalid_client_metadata")


async def test_lone_surrogates_in_json_are_refused(browser: Browser, world: World, issue: Any) -> None:
    token = await issue(world.admin, scopes="read_user navigation")
    body = b'{"section": "members", "label": "\\ud800", "iframe_url": "https://app.example/embed"}'
    response = await browser.post(
        "/api/navigation_links",
        content=body,
        headers={"authorization": f"Bearer {token}", "host": SPACE_HOST, "content-type": "application/json"},
    )
    refused_as_json(response)


@pytest.mark.parametrize("header", ["user-agent", "cookie", "x-forwarded-for"])
async def test_header_values(browser: Browser, world: World, header: str) -> None:
    refused_as_json(await browser.get("/api/user", headers={header: NUL}))
