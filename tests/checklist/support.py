"""Small helpers shared by the checklist tests (the big ones come from tests/oauth_support.py,
tests/support.py and tests/e2e)."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx

from tests.oauth_support import TOKEN_URL, RegisteredApp, exchange, get_code
from tests.support import PASSWORD, Browser

ATTR_RE = re.compile(
    r"""\b(src|href|action|srcset|formaction|poster|data)\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.I
)
# RFC 7235 §4.1 challenge: scheme, then comma-separated auth-params with token or quoted values.
_PARAM_RE = re.compile(
    r'\s*([!#$%&\'*+\-.^_`|~0-9A-Za-z]+)\s*=\s*("(?:[^"\\]|\\.)*"|[!#$%&\'*+\-.^_`|~0-9A-Za-z]+)\s*'
)


def bearer(token: str, scheme: str = "Bearer") -> dict[str, str]:
    return {"authorization": f"{scheme} {token}"}


def assert_no_store(response: httpx.Response) -> None:
    """RFC 6749 §5.1: every token endpoint answer is JSON and never cached."""
    assert response.headers["cache-control"] == "no-store", response.headers
    assert response.headers["pragma"] == "no-cache", response.headers
    content_type = response.headers["content-type"].replace(" ", "").lower()
    assert content_type in ("application/json", "application/json;charset=utf-8"), content_type


def attributes(page: str) -> list[str]:
    """Every URL-bearing attribute value (src, href, action, …) of an HTML page, unescaped."""
    return [
        html.unescape(m.group(2) if m.group(2) is not None else m.group(3)) for m in ATTR_RE.finditer(page)
    ]


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """Split ``Scheme a="x", b=y`` into the scheme and its parameters; fails on bad syntax."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    pos = 0
    rest = rest.strip()
    while pos < len(rest):
        match = _PARAM_RE.match(rest, pos)
        assert match, f"malformed challenge parameters at {rest[pos:]!r} in {header!r}"
        name, value = match.group(1).lower(), match.group(2)
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        assert name not in params, f"repeated parameter {name} in {header!r}"
        params[name] = value
        pos = match.end()
        if pos < len(rest):
            assert rest[pos] == ",", f"parameters must be comma-separated in {header!r}"
            pos += 1
    return scheme, params


async def api_status(b: Browser, token: str, path: str = "/api/user") -> int:
    return (await b.get(path, headers=bearer(token))).status_code


async def code_token(b: Browser, app: RegisteredApp, **extra: str) -> dict[str, Any]:
    """A whole code flow (the person behind ``b`` approves); the token response body."""
    response = await exchange(b, app, await get_code(b, app, **extra))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def password_grant(
    b: Browser, app: RegisteredApp, username: str = "pat@example.com", password: str = PASSWORD, **extra: str
) -> httpx.Response:
    data = {
        "grant_type": "password",
        "username": username,
        "password": password,
        "client_id": app.client_id,
        "client_secret": app.client_secret or "",
        **extra,
    }
    return await b.post(TOKEN_URL, data=data)
