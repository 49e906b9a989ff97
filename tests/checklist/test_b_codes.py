"""B. Authorization code (checklist items 7–10)."""

from __future__ import annotations

import dataclasses
import math
import secrets
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from frontdesk.store.models import AuthorizationCode
from tests.checklist.support import api_status, bearer
from tests.oauth_support import (
    TOKEN_URL,
    RegisteredApp,
    authorize_params,
    exchange,
    get_code,
    query,
    register_app,
)
from tests.support import Browser, make_settings

BASE64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
CODE_PREFIX = "fdac_"
# Enough codes to see duplicates or a skewed alphabet, few enough for both databases.
CODES = 1000


@pytest.mark.rfc("6749 4.1.2")
@pytest.mark.rfc("6749 10.5")
async def test_item_07_code_single_use_and_replay_revokes(
    logged_in: Browser, registered: RegisteredApp
) -> None:
    code = await get_code(logged_in, registered)
    first = await exchange(logged_in, registered, code)
    assert first.status_code == 200
    token = first.json()["access_token"]
    assert await api_status(logged_in, token) == 200
    second = await exchange(logged_in, registered, code)
    assert second.status_code == 400 and second.json()["error"] == "invalid_grant"
    replayed = await logged_in.get("/api/user", headers=bearer(token))
    assert replayed.status_code == 401
    assert 'error="invalid_token"' in replayed.headers["www-authenticate"]
    third = await exchange(logged_in, registered, code)
    assert third.status_code == 400 and third.json()["error"] == "invalid_grant"


@pytest.mark.rfc("6749 4.1.2")
async def test_item_08_code_lifetime_is_short(
    logged_in: Browser, registered: RegisteredApp, state: Any, db: Any
) -> None:
    """Codes live 60 s by default (at most 600 s can be configured); after that, invalid_grant."""
    assert state.settings.code_ttl_seconds <= 60
    code = await get_code(logged_in, registered)
    row = (await db.execute(select(AuthorizationCode))).scalar_one()
    assert 0 < (row.expires_at - row.created_at).total_seconds() <= 60
    later = state.oauth.config.clock() + timedelta(seconds=61)
    state.oauth.token.config = dataclasses.replace(state.oauth.token.config, clock=lambda: later)
    expired = await exchange(logged_in, registered, code)
    assert expired.status_code == 400 and expired.json()["error"] == "invalid_grant"
    for ttl in (0, 601, 3600):
        with pytest.raises(ValidationError):
            make_settings("sqlite:///x.db", code_ttl_seconds=ttl)


@pytest.mark.rfc("6749 4.1.3")
async def test_item_09_code_bound_to_the_client(
    state: Any, db: Any, dev: Any, logged_in: Browser, registered: RegisteredApp
) -> None:
    """App B's credentials cannot redeem app A's code, and the attempt burns it."""
    other = await register_app(state, db, dev, name="App B")
    code = await get_code(logged_in, registered)
    stolen = await exchange(logged_in, other, code)
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    burned = await exchange(logged_in, registered, code)
    assert burned.status_code == 400 and burned.json()["error"] == "invalid_grant"
    public = await register_app(state, db, dev, name="Public B", public=True)
    code = await get_code(logged_in, registered)
    as_public = await logged_in.post(
        TOKEN_URL, data={"grant_type": "authorization_code", "code": code, "client_id": public.client_id}
    )
    assert as_public.status_code == 400 and as_public.json()["error"] == "invalid_grant"
    assert (await exchange(logged_in, registered, code)).json()["error"] == "invalid_grant"


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


@pytest.mark.rfc("6749 10.10")
@pytest.mark.rfc("6819 5.1.4.2.2")
async def test_item_10_code_entropy(logged_in: Browser, registered: RegisteredApp) -> None:
    """Collect many codes through the authorization endpoint (consent remembered after the
    first, so each GET answers with a fresh code)."""
    codes = [await get_code(logged_in, registered)]
    params = authorize_params(registered)
    while len(codes) < CODES:
        response = await logged_in.get("/oauth/authorize", params=params)
        assert response.status_code == 302, response.text
        codes.append(query(response.headers["location"])["code"])
    assert_random_secrets(codes, CODE_PREFIX)


@pytest.mark.rfc("6749 10.10")
@pytest.mark.rfc("6819 5.1.4.2.3")
async def test_item_10_guessed_codes_fail_and_the_limiter_engages(
    browser: Browser, registered: RegisteredApp
) -> None:
    """100 random codes redeemed with valid client credentials all fail, and guessing is
    throttled (429 with Retry-After) well before the hundredth attempt."""
    statuses = []
    for _ in range(100):
        response = await exchange(browser, registered, CODE_PREFIX + secrets.token_urlsafe(32))
        assert response.status_code in (400, 429), response.text
        assert "access_token" not in response.json()
        if response.status_code == 400:
            assert response.json()["error"] == "invalid_grant"
        statuses.append(response.status_code)
    assert 429 in statuses, "100 wrong codes from one client and address were never throttled"
    first = statuses.index(429)
    assert first <= 60 and set(statuses[first:]) == {429}
    assert int(response.headers["retry-after"]) > 0
