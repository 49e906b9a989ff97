"""The replay guard behind DPoP proofs and client assertions (services/throttle.Throttle.first_use):
a value is accepted once per window, in one worker's memory or shared through Redis."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

from frontdesk.services.throttle import Throttle, make_storage


@pytest.fixture(params=["memory", "redis"])
def storage_url(request: pytest.FixtureRequest) -> str | None:
    if request.param == "memory":
        return None
    url = os.environ.get("FRONTDESK_TEST_REDIS_URL")
    if not url:
        pytest.skip(
            "Redis replay guard skipped: set FRONTDESK_TEST_REDIS_URL=redis://127.0.0.1:6379/15 "
            "(as .ci/run does)"
        )
    return url


async def test_a_value_is_accepted_once(storage_url: str | None) -> None:
    guard = Throttle(make_storage(storage_url))
    jti = uuid.uuid4().hex
    assert await guard.first_use("dpop", jti, 60) is True
    assert await guard.first_use("dpop", jti, 60) is False
    # Another kind is another namespace.
    assert await guard.first_use("client_assertion", jti, 60) is True


async def test_concurrent_uses_let_exactly_one_through(storage_url: str | None) -> None:
    guard = Throttle(make_storage(storage_url))
    jti = uuid.uuid4().hex
    outcomes = await asyncio.gather(*(guard.first_use("dpop", jti, 60) for _ in range(25)))
    assert outcomes.count(True) == 1


async def test_two_workers_share_the_guard_through_redis() -> None:
    url = os.environ.get("FRONTDESK_TEST_REDIS_URL")
    if not url:
        pytest.skip("set FRONTDESK_TEST_REDIS_URL=redis://127.0.0.1:6379/15 (as .ci/run does)")
    one, other = Throttle(make_storage(url)), Throttle(make_storage(url))
    jti = uuid.uuid4().hex
    assert await one.first_use("dpop", jti, 60) is True
    assert await other.first_use("dpop", jti, 60) is False
