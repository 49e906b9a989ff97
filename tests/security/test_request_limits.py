"""Request size limits (issue 11, item 1): bodies over their cap are refused with 413 before
or while they are read, never buffered past the cap; request headers over their cap get 431.

Protocol and API endpoints take ``FRONTDESK_MAX_BODY_BYTES`` (64 KiB), page forms
``FRONTDESK_MAX_PAGE_BODY_BYTES`` (256 KiB); see web/limits.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.api.conftest import World
from tests.support import Browser

SPACE = {"host": "co-up.localhost:8000"}
LIMIT = 65536
PAGE_LIMIT = 262144
TOO_LARGE = {"error": "invalid_request", "error_description": f"request body too large (limit {LIMIT} bytes)"}


def form_of_size(size: int, **fields: str) -> bytes:
    """An urlencoded form of exactly ``size`` bytes: ``fields`` and a padding field."""
    head = "&".join(f"{k}={v}" for k, v in fields.items())
    head = f"{head}&pad=" if head else "pad="
    return (head + "x" * (size - len(head))).encode()


FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize(
    "path", ["/oauth/access_token", "/oauth/token", "/oauth/revoke", "/oauth/introspect"]
)
async def test_protocol_bodies_over_the_cap_are_refused_before_authentication(
    browser: Browser, path: str
) -> None:
    body = form_of_size(LIMIT + 1, grant_type="password", client_id="x", client_secret="y", token="t")
    response = await browser.post(path, content=body, headers=FORM)
    assert response.status_code == 413
    assert response.json() == TOO_LARGE
    assert response.headers["connection"] == "close"


async def test_a_body_at_the_cap_is_read(browser: Browser) -> None:
    body = form_of_size(LIMIT, grant_type="password", client_id="nobody", client_secret="x")
    response = await browser.post("/oauth/access_token", content=body, headers=FORM)
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"


async def test_userinfo_form_body_over_the_cap(browser: Browser, world: World) -> None:
    body = form_of_size(LIMIT + 1, access_token=world.app.test_token)
    response = await browser.post("/api/userinfo", content=body, headers=FORM)
    assert response.status_code == 413
    assert response.json() == TOO_LARGE


async def test_json_bodies_over_the_cap(browser: Browser, world: World, issue: Any) -> None:
    admin = await issue(world.admin, scopes="read_user navigation")
    padding = "x" * LIMIT
    cases = [
        ("/oauth/register", {"client_name": padding, "redirect_uris": ["https://a.example/cb"]}, {}),
        (f"/api/access_tokens/{admin}/space", {"space_id": "co-up", "pad": padding}, {}),
        (
            "/api/navigation_links",
            {"section": "members", "label": padding, "iframe_url": "https://a.example/"},
            {"authorization": f"Bearer {admin}", **SPACE},
        ),
    ]
    for path, body, headers in cases:
        response = await browser.post(path, json=body, headers=headers)
        assert response.status_code == 413, path
        assert response.json() == TOO_LARGE, path


async def test_a_streamed_body_is_cut_off_at_the_cap(browser: Browser) -> None:
    """No Content-Length (a chunked upload of 16 MiB): counted as it arrives and refused as
    soon as it passes the cap; the rest of the upload is never asked for."""
    sent = 0

    async def upload() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b"grant_type=password&username=a&password="
        for _ in range(1024):
            sent += 1
            yield b"x" * 16384

    response = await browser.post("/oauth/access_token", content=upload(), headers=FORM)
    assert response.status_code == 413
    assert response.json() == TOO_LARGE
    assert sent <= LIMIT // 16384 + 1  # the chunk that passed the cap is the last one read


async def test_page_forms_have_their_own_cap(browser: Browser) -> None:
    token = await browser.token("/login")
    within = await browser.post(
        "/login",
        content=form_of_size(LIMIT * 2, email="a@example.com", password="wrong", csrf_token=token),
        headers=FORM,
    )
    assert within.status_code == 401  # read and answered by the login page: wrong password
    assert "Too large" not in within.text
    over = await browser.post(
        "/login",
        content=form_of_size(PAGE_LIMIT + 1, email="a@example.com", password="wrong", csrf_token=token),
        headers=FORM,
    )
    assert over.status_code == 413
    assert over.headers["content-type"].startswith("text/html")
    assert "Too large" in over.text and f"limit {PAGE_LIMIT} bytes" in over.text


async def test_the_consent_form_is_a_page(browser: Browser) -> None:
    response = await browser.post("/oauth/authorize", content=form_of_size(PAGE_LIMIT + 1), headers=FORM)
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("text/html")


async def test_headers_over_the_cap_get_431(browser: Browser, world: World) -> None:
    big = {"x-padding": "y" * 16384}
    api = await browser.get("/api/user", headers={"authorization": f"Bearer {world.app.test_token}", **big})
    assert api.status_code == 431
    assert api.json() == {
        "error": "invalid_request",
        "error_description": "request header fields too large (limit 16384 bytes)",
    }
    page = await browser.get("/login", headers=big)
    assert page.status_code == 431
    assert "Request headers too large" in page.text
    fine = await browser.get("/api/user", headers={"authorization": f"Bearer {world.app.test_token}"})
    assert fine.status_code == 200


class TestConfigurable:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"max_body_bytes": 2048, "max_header_bytes": 8192}

    async def test_the_caps_are_settings(self, browser: Browser) -> None:
        response = await browser.post("/oauth/revoke", content=form_of_size(2049, token="t"), headers=FORM)
        assert response.status_code == 413
        assert response.json()["error_description"] == "request body too large (limit 2048 bytes)"
        headers = await browser.get("/oauth/authorize", headers={"x-padding": "y" * 8192})
        assert headers.status_code == 431


async def test_the_too_large_page_speaks_the_browsers_language(browser: Browser) -> None:
    """The page a person gets for an oversized form says the limit in their language."""
    response = await browser.post(
        "/oauth/authorize",
        content=form_of_size(PAGE_LIMIT + 1),
        headers={**FORM, "accept-language": "de-DE,de;q=0.9"},
    )
    assert response.status_code == 413
    assert f"Was Sie gesendet haben, ist zu groß (höchstens {PAGE_LIMIT} Bytes)." in response.text
