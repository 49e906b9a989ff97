"""Deeply nested JSON and non-ASCII digits (issue 11, item 13): one JSON reader with its size
and depth capped (inputs.load_json via web/bodies.py), one integer parser that takes ASCII
digits only (inputs.ascii_int). Unreadable input is a 400, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from frontdesk.inputs import MAX_JSON_DEPTH, BadInput, ascii_int, load_json
from tests.api.conftest import World
from tests.support import Browser

SPACE = {"host": "co-up.localhost:8000"}
LINK = {"section": "members", "label": "Booking", "iframe_url": "https://app.example/embed"}
JSON = {"content-type": "application/json"}


def nested(depth: int) -> str:
    """A JSON value whose arrays are ``depth`` levels deep."""
    return "[" * depth + "]" * depth


def deep_body(fields: dict[str, Any], depth: int) -> bytes:
    """``fields`` plus a member ``extra`` nested so the whole document is ``depth`` deep."""
    head = ", ".join(f'"{k}": "{v}"' for k, v in fields.items())
    return ("{" + (head + ", " if head else "") + '"extra": ' + nested(depth - 1) + "}").encode()


async def test_registration(browser: Browser) -> None:
    body = deep_body({"client_name": "Deep"}, 20_000)
    response = await browser.post("/oauth/register", content=body, headers=JSON)
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_client_metadata",
        "error_description": f"the JSON is nested more than {MAX_JSON_DEPTH} levels deep",
    }


async def test_space_token(browser: Browser, world: World, issue: Any) -> None:
    token = await issue(world.admin)
    body = deep_body({"space_id": "co-up"}, 20_000)
    response = await browser.post(f"/api/access_tokens/{token}/space", content=body, headers=JSON)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_navigation_links_depth_cap(browser: Browser, world: World, issue: Any) -> None:
    token = await issue(world.admin, scopes="navigation")
    headers = {"authorization": f"Bearer {token}", **SPACE, **JSON}
    for depth in (20_000, MAX_JSON_DEPTH + 1):
        response = await browser.post(
            "/api/navigation_links", content=deep_body(LINK, depth), headers=headers
        )
        assert response.status_code == 400, depth
        assert response.json() == {
            "error": "invalid_request",
            "error_description": f"the JSON is nested more than {MAX_JSON_DEPTH} levels deep",
        }
    at_cap = await browser.post(
        "/api/navigation_links", content=deep_body(LINK, MAX_JSON_DEPTH), headers=headers
    )
    assert at_cap.status_code == 201, at_cap.text


async def test_json_constants_are_not_json(browser: Browser, world: World, issue: Any) -> None:
    token = await issue(world.admin, scopes="navigation")
    body = b'{"section": "members", "label": "L", "iframe_url": "https://a.example/", "x": NaN}'
    response = await browser.post(
        "/api/navigation_links", content=body, headers={"authorization": f"Bearer {token}", **SPACE, **JSON}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.fixture
async def dev(browser: Browser) -> Browser:
    await browser.signup("dev@example.com", name="Dev Eloper")
    return browser


@pytest.mark.parametrize("ttl", ["³⁰⁰", "٣٠٠", "３００"])
async def test_access_token_lifetime_takes_ascii_digits_only(dev: Browser, ttl: str) -> None:
    form = {
        "name": "TTL App",
        "redirect_uris": "https://example.com/cb",
        "scope": ["read_user"],
        "access_token_ttl": ttl,
    }
    response = await dev.submit("/oauth2_clients/new", form)
    assert response.status_code == 422, response.text
    assert "Enter a whole number of seconds" in response.text


async def test_access_token_lifetime_in_ascii_digits(dev: Browser) -> None:
    form = {"name": "TTL App", "redirect_uris": "https://example.com/cb", "scope": ["read_user"]}
    response = await dev.submit("/oauth2_clients/new", {**form, "access_token_ttl": " 300 "})
    assert response.status_code == 303, response.text


def test_the_integer_parser() -> None:
    assert ascii_int("0042") == 42
    for text in ("", " ", "-1", "+1", "1_000", "1.0", "٣", "³", "１", "9" * 19):
        with pytest.raises(BadInput):
            ascii_int(text)


def test_the_json_parser() -> None:
    assert load_json(b'{"a": [1, {"b": "c"}]}') == {"a": [1, {"b": "c"}]}
    assert load_json(nested(MAX_JSON_DEPTH)) is not None
    for raw in (
        nested(MAX_JSON_DEPTH + 1),
        nested(100_000),
        '{"a": "\\u0000"}',
        '{"\\u0000": 1}',
        '["\\udfff"]',
    ):
        with pytest.raises(BadInput):
            load_json(raw)
