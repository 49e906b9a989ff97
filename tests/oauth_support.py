"""Helpers for OAuth tests: register apps, walk the authorization flow, call the token endpoint,
use tokens at the API, and check what the answers look like."""

from __future__ import annotations

import base64
import html
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from frontdesk.oauth.models import Person
from frontdesk.services import accounts, apps
from tests.support import PASSWORD, Browser, csrf_from

CALLBACK = "https://app.example/auth/callback"
TOKEN_URL = "/oauth/access_token"


@dataclass
class RegisteredApp:
    client_id: str
    client_secret: str | None
    test_token: str
    redirect_uri: str


async def make_user(state: Any, db: Any, email: str, name: str = "Test User") -> Person:
    person = await accounts.create_user(db, state.passwords, email=email, password=PASSWORD, name=name)
    await db.commit()
    return person


async def register_app(
    state: Any,
    db: Any,
    owner: Person,
    *,
    redirect_uris: list[str] | None = None,
    scopes: str = "read_user read_memberships",
    **kwargs: Any,
) -> RegisteredApp:
    uris = redirect_uris or [CALLBACK]
    created = await apps.register_app(
        db,
        state.server_secret,
        owner=owner,
        name=kwargs.pop("name", "Test App"),
        redirect_uris=uris,
        scopes=scopes,
        **kwargs,
    )
    await db.commit()
    return RegisteredApp(created.app.client_id, created.client_secret, created.test_access_token, uris[0])


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"authorization": f"Basic {raw}"}


def query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query, keep_blank_values=True).items()}


def authorize_params(app: RegisteredApp, **extra: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": app.redirect_uri,
        "state": "xyz",
    }
    params.update(extra)
    return {k: v for k, v in params.items() if v is not None}


async def consent(
    browser: Browser, app: RegisteredApp, decision: str = "approve", **extra: str | None
) -> httpx.Response:
    """Open the authorization URL (logged in) and press Approve or Deny on the consent page."""
    page = await browser.get("/oauth/authorize", params=authorize_params(app, **extra))
    if page.status_code != 200:
        return page
    return await decide(browser, page, decision)


async def decide(browser: Browser, page: httpx.Response, decision: str = "approve") -> httpx.Response:
    """Press Approve or Deny on a consent page."""
    hidden = dict(_hidden_fields(page.text))
    hidden["decision"] = decision
    hidden["csrf_token"] = csrf_from(page.text.split('action="/oauth/authorize"', 1)[1])
    return await browser.post("/oauth/authorize", data=hidden)


def _hidden_fields(page: str) -> list[tuple[str, str]]:
    form = page.split('action="/oauth/authorize"', 1)[1].split("</form>", 1)[0]
    return [
        (html.unescape(n), html.unescape(v))
        for n, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form)
        if n != "csrf_token"
    ]


async def get_code(browser: Browser, app: RegisteredApp, **extra: str | None) -> str:
    """A code for ``app``: the consent page is shown (200) and Approve answers 303, or, with
    consent on record, the authorization endpoint answers 302 straight to the app."""
    page = await browser.get("/oauth/authorize", params=authorize_params(app, **extra))
    if page.status_code == 302:
        response = page
    else:
        assert page.status_code == 200, page.text
        response = await decide(browser, page)
        assert response.status_code == 303, response.text
    params = query(response.headers["location"])
    assert "code" in params, params
    return params["code"]


async def exchange(
    client: httpx.AsyncClient | Browser, app: RegisteredApp, code: str, **extra: str
) -> httpx.Response:
    data = {
        "client_id": app.client_id,
        "client_secret": app.client_secret or "",
        "grant_type": "authorization_code",
        "code": code,
        **extra,
    }
    return await client.post(TOKEN_URL, data={k: v for k, v in data.items() if v != ""})


# ---- tokens at the API -------------------------------------------------------------------------


def bearer(token: str, scheme: str = "Bearer") -> dict[str, str]:
    return {"authorization": f"{scheme} {token}"}


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


# ---- what answers look like --------------------------------------------------------------------


def assert_no_store(response: httpx.Response) -> None:
    """RFC 6749 §5.1: every token endpoint answer is JSON and never cached."""
    assert response.headers["cache-control"] == "no-store", response.headers
    assert response.headers["pragma"] == "no-cache", response.headers
    assert response.headers["content-type"] == "application/json", response.headers


ATTR_RE = re.compile(
    r"""\b(src|href|action|srcset|formaction|poster|data)\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.I
)
# RFC 7235 §4.1 challenge: scheme, then comma-separated auth-params with token or quoted values.
_PARAM_RE = re.compile(
    r'\s*([!#$%&\'*+\-.^_`|~0-9A-Za-z]+)\s*=\s*("(?:[^"\\]|\\.)*"|[!#$%&\'*+\-.^_`|~0-9A-Za-z]+)\s*'
)


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


# ---- randomness of codes, tokens and secrets ---------------------------------------------------

BASE64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def common_prefix(values: list[str]) -> str:
    first, last = min(values), max(values)
    size = 0
    while size < min(len(first), len(last)) and first[size] == last[size]:
        size += 1
    return first[:size]


def assert_random_secrets(values: list[str], prefix: str) -> None:
    """No repeats, the brand prefix and then ≥ 43 base64url characters (256 bits; the MUST is
    ≥ 128 and the SHOULD ≥ 160 bits, i.e. ≥ 27 characters), no common prefix beyond the brand,
    and characters spread evenly over the alphabet (chi-square, far from any plausible bias)."""
    assert len(set(values)) == len(values), "a value repeated"
    bodies = []
    for value in values:
        assert value.startswith(prefix), value
        body = value[len(prefix) :]
        assert len(body) >= 43 and set(body) <= BASE64URL, value
        bodies.append(body)
    assert common_prefix(values) == prefix
    # The last character of 32 random bytes in base64url carries 4 bits only: leave it out.
    counts = Counter(c for body in bodies for c in body[:42])
    total = sum(counts.values())
    expected = total / 64
    chi2 = sum((counts.get(c, 0) - expected) ** 2 / expected for c in BASE64URL)
    # 63 degrees of freedom: p(chi2 > 130) < 1e-6 for a uniform source.
    assert chi2 < 130, chi2
    entropy = -sum(n / total * math.log2(n / total) for n in counts.values())
    assert entropy > 5.95, entropy
    positions = [Counter(body[i] for body in bodies) for i in range(42)]
    assert max(max(p.values()) for p in positions) < len(bodies) / 8, "a position is nearly constant"


# Near misses of the registered redirect URI https://app.test/cb: none may match (RFC 9700 §4.1.3).
REDIRECT_URI_MUTATIONS = [
    "https://app.test/cb/",
    "https://app.test/cb/x",
    "https://APP.test/cb",
    "https://app.test:443/cb",
    "https://app.test/cb?x=1",
    "https://app.test/cb#f",
    "https://app.test/%63b",
    "https://app.test.evil.test/cb",
    "https://app.test@evil.test/cb",
    "https://evil.test\\@app.test/cb",
    "http://app.test/cb",
    "//evil.test",
    "https://evil.test/",
    "javascript:alert(1)",
    "https://app.test/CB",
    "https://app.test/cb%20",
    " https://app.test/cb",
    "https://app.test./cb",
    "https://app.test/./cb",
    "https://app.test/cb/../cb",
    "https://app.test/cb;x",
    "https://app.test/cb?",
    "https://app.test/cb#",
]
