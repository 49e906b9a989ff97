"""Failure throttles slow the guesser, not the owner (RFC 6819 §5.1.4.2.3, §5.2.3.1), and hold
whatever the concurrency: on the in-process counters and on Redis shared by all workers.

Each test reproduces an attack from the hardening review (issue 11, items 2-4)."""

from __future__ import annotations

import asyncio
import os
import re
from collections import Counter
from typing import Any

import pytest

from frontdesk.oauth import pkce
from tests.oauth_support import (
    RegisteredApp,
    basic,
    exchange,
    get_code,
    password_grant,
    register_app,
)
from tests.support import Browser

OWNER_IP = "198.51.100.7"  # the default Browser's address
STRANGER_IP = "203.0.113.5"


@pytest.fixture
def limits() -> dict[str, Any]:
    """Rule settings of one test (parametrize ``limits`` to change them); the defaults else."""
    return {}


@pytest.fixture(params=["memory", "redis"])
def settings_overrides(request: pytest.FixtureRequest, limits: dict[str, Any]) -> dict[str, Any]:
    overrides: dict[str, Any] = dict(limits)
    if request.param == "redis":
        url = os.environ.get("FRONTDESK_TEST_REDIS_URL")
        if not url:
            pytest.skip(
                "Redis throttles skipped: set FRONTDESK_TEST_REDIS_URL=redis://127.0.0.1:6379/15 "
                "(as .ci/run does)"
            )
        overrides["redis_url"] = url
    return overrides


@pytest.fixture(autouse=True)
async def fresh_counters(state: Any) -> None:
    """Redis outlives a test: every test starts from empty counters."""
    await state.throttle.reset()


def tally(responses: list[Any]) -> Counter[int]:
    return Counter(r.status_code for r in responses)


# ---- item 2: a client id is no key to lock an app out ------------------------------------------


@pytest.mark.rfc("6749 2.3.1")
async def test_wrong_secrets_from_strangers_do_not_lock_the_app_out(
    browser: Browser, new_browser: Any, registered: RegisteredApp, person: Any
) -> None:
    """20 wrong secrets per minute for one client from one address (the default): the 21st
    from there is throttled, also through HTTP Basic at /oauth/revoke; the owner's server,
    elsewhere, still authenticates with the right secret."""
    stranger = new_browser(client_ip=STRANGER_IP)
    wrong = RegisteredApp(registered.client_id, "not-the-secret", "", registered.redirect_uri)
    statuses = [(await password_grant(stranger, wrong)).status_code for _ in range(21)]
    assert statuses == [401] * 20 + [429]
    revoked = await stranger.post(
        "/oauth/revoke", data={"token": "x"}, headers=basic(registered.client_id, "still-wrong")
    )
    assert revoked.status_code == 429
    assert revoked.json()["error"] == "invalid_client"
    # The same address with the right secret waits too: it has been failing.
    assert (await password_grant(stranger, registered)).status_code == 429
    # The owner, from an address that has not been failing, is never refused.
    response = await password_grant(browser, registered)
    assert response.status_code == 200
    introspected = await browser.post(
        "/oauth/introspect",
        data={"token": response.json()["access_token"]},
        headers=basic(registered.client_id, registered.client_secret or ""),
    )
    assert introspected.status_code == 200


async def test_rotating_through_an_ipv6_network_gains_nothing(
    new_browser: Any, registered: RegisteredApp
) -> None:
    """One subscriber's /64 is one address for the throttle."""
    wrong = RegisteredApp(registered.client_id, "not-the-secret", "", registered.redirect_uri)
    statuses = [
        (await password_grant(new_browser(client_ip=f"2001:db8:1:2::{i:x}"), wrong)).status_code
        for i in range(1, 22)
    ]
    assert statuses == [401] * 20 + [429]
    other_network = new_browser(client_ip="2001:db8:1:3::1")
    assert (await password_grant(other_network, wrong)).status_code == 401


@pytest.mark.rfc("6819 5.1.4.2.3")
async def test_guessed_codes_do_not_block_a_valid_redemption(
    state: Any, db: Any, dev: Any, logged_in: Browser, new_browser: Any
) -> None:
    """30 bogus codes for a public app (its client id is public) from one address: that
    address is throttled; the app's real user redeems a valid code from hers."""
    spa = await register_app(state, db, dev, name="SPA", public=True)
    stranger = new_browser(client_ip=STRANGER_IP)
    guesses = [
        (await exchange(stranger, spa, f"guessed-code-{i}", code_verifier="v" * 43)).status_code
        for i in range(31)
    ]
    assert guesses == [400] * 30 + [429]
    verifier = "correct-horse-battery-staple-verifier-0123456789"
    code = await get_code(logged_in, spa, code_challenge=pkce.s256(verifier), code_challenge_method="S256")
    redeemed = await exchange(logged_in, spa, code, code_verifier=verifier)
    assert redeemed.status_code == 200


# ---- item 3: count-then-check is one step ------------------------------------------------------


async def test_concurrent_wrong_passwords_at_the_login_form_pass_the_limit_at_most(
    browser: Browser, person: Any
) -> None:
    """40 wrong passwords at once for one account from one address: exactly the limit (10 per
    15 minutes) are checked, the rest are refused before any hashing."""
    token = await browser.token("/login")
    form = {"email": "pat@example.com", "password": "guess", "csrf_token": token}
    responses = await asyncio.gather(*(browser.post("/login", data=form) for _ in range(40)))
    assert tally(responses) == Counter({401: 10, 429: 30})


async def test_concurrent_wrong_passwords_at_the_password_grant_pass_the_limit_at_most(
    browser: Browser, registered: RegisteredApp, person: Any
) -> None:
    responses = await asyncio.gather(
        *(password_grant(browser, registered, password="guess") for _ in range(40))
    )
    assert tally(responses) == Counter({400: 10, 429: 30})
    refused = [r.json() for r in responses if r.status_code == 429]
    assert {body["error"] for body in refused} == {"invalid_grant"}


# ---- item 4: strangers cannot lock an account --------------------------------------------------


async def test_wrong_logins_from_strangers_do_not_lock_the_owner_out(
    browser: Browser, new_browser: Any, person: Any, registered: RegisteredApp
) -> None:
    stranger = new_browser(client_ip=STRANGER_IP)
    for _ in range(10):
        assert (await stranger.login("pat@example.com", "guess")).status_code == 401
    # The stranger's address waits, even with the right password…
    blocked = await stranger.login("pat@example.com")
    assert blocked.status_code == 429
    assert "Too many failed attempts. Try again in 15 minutes." in blocked.text
    assert not re.search(r"\d+ seconds", blocked.text)
    assert 0 < int(blocked.headers["retry-after"]) <= 900
    # …and the password grant shares the counters (it is no cheaper oracle).
    assert (await password_grant(stranger, registered)).status_code == 429
    # The owner logs in from her own address.
    assert (await browser.login("pat@example.com")).status_code == 303


@pytest.mark.parametrize("limits", [{"login_failures_per_account": "3/day"}])
async def test_the_account_ceiling_holds_back_failing_addresses_only(
    browser: Browser, new_browser: Any, person: Any
) -> None:
    """Many addresses guessing one account: once the per-account ceiling is reached, each
    address that has failed for it waits, a new address gets one try, the owner gets in."""
    attackers = [new_browser(client_ip=f"192.0.2.{i}") for i in range(1, 5)]
    for attacker in attackers[:3]:
        assert (await attacker.login("pat@example.com", "guess")).status_code == 401
    # The ceiling (3) is reached: the addresses that failed wait, with the right password too.
    assert (await attackers[0].login("pat@example.com")).status_code == 429
    # A fresh address gets one try, then waits.
    assert (await attackers[3].login("pat@example.com", "guess")).status_code == 401
    assert (await attackers[3].login("pat@example.com", "guess")).status_code == 429
    assert (await browser.login("pat@example.com")).status_code == 303


async def test_sign_up_is_throttled_per_address(browser: Browser, new_browser: Any) -> None:
    for i in range(10):
        await new_browser().signup(f"person{i}@example.com")
    refused = await browser.submit(
        "/signup", {"email": "one-more@example.com", "password": "a long passphrase", "name": "More"}
    )
    assert refused.status_code == 429
    assert "Too many sign-ups from your address. Try again in 60 minutes." in refused.text
    elsewhere = new_browser(client_ip=STRANGER_IP)
    assert (await elsewhere.signup("one-more@example.com")).status_code == 303


async def test_the_token_endpoint_says_how_long_in_words(
    new_browser: Any, registered: RegisteredApp, person: Any
) -> None:
    stranger = new_browser(client_ip=STRANGER_IP)
    for _ in range(10):
        assert (await password_grant(stranger, registered, password="guess")).status_code == 400
    refused = await password_grant(stranger, registered)
    assert refused.status_code == 429
    assert refused.json() == {
        "error": "invalid_grant",
        "error_description": "too many failed attempts; try again in 15 minutes",
    }
