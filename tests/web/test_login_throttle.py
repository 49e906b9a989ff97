"""Login failures are limited per account and address, per address, and by a per-account ceiling
that holds back failing addresses only; all before any hashing (tests/oauth/test_throttles.py
has the attacks on these rules)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import Browser


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "login_failures_per_account": "3/minute",
        "login_failures_per_account_address": "3/minute",
        "login_failures_per_address": "5/minute",
    }


@pytest.fixture
def count_hashing(app: Any, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count password verifications the server actually performs."""
    passwords = app.state.frontdesk.passwords
    calls = [0]
    original = passwords._verify_sync

    def counting(stored: str, password: str) -> tuple[bool, bool]:
        calls[0] += 1
        return original(stored, password)  # type: ignore[no-any-return]

    monkeypatch.setattr(passwords, "_verify_sync", counting)
    return calls


async def test_failures_per_account_are_throttled_before_hashing(
    browser: Browser, new_browser: Any, count_hashing: list[int]
) -> None:
    await browser.signup("victim@example.com")
    for i in range(3):  # each attempt from a different address: the per-account ceiling fills
        response = await new_browser(client_ip=f"203.0.113.{i}").login("victim@example.com", "guess")
        assert response.status_code == 401
    hashed = count_hashing[0]
    # An address that has failed for the account waits, with the right password too…
    blocked = await new_browser(client_ip="203.0.113.0").login("victim@example.com")
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    assert "Too many failed attempts" in blocked.text
    assert count_hashing[0] == hashed, "a throttled attempt must not hash"
    # …while the owner, from an address that has not been failing, gets in.
    assert (await new_browser(client_ip="203.0.113.100").login("victim@example.com")).status_code == 303


async def test_failures_per_address_are_throttled(
    browser: Browser, new_browser: Any, count_hashing: list[int]
) -> None:
    attacker = new_browser(client_ip="192.0.2.66")
    for i in range(5):
        assert (await attacker.login(f"user{i}@example.com", "guess")).status_code == 401
    hashed = count_hashing[0]
    response = await attacker.login("someone-else@example.com", "guess")
    assert response.status_code == 429
    assert count_hashing[0] == hashed
    # Another address is unaffected.
    assert (await new_browser(client_ip="192.0.2.67").login("user9@example.com", "guess")).status_code == 401


async def test_successful_logins_do_not_count(browser: Browser, new_browser: Any) -> None:
    await browser.signup("fine@example.com")
    for _ in range(6):
        assert (await new_browser().login("fine@example.com")).status_code == 303
