"""The per-worker caches, seen from outside (frontdesk.store.caching): every write is seen at
once by the worker that made it and within the invalidation channel's bound by the others;
while the channel is down nothing stale is served."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
from sqlalchemy import select, text, update

from frontdesk.services import spaces
from frontdesk.store.models import AccessToken
from frontdesk.store.types import utcnow
from frontdesk.web.app import create_app
from tests.api.conftest import World
from tests.support import Browser, lifespan


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def _status_soon(b: Browser, token: str, expected: int, seconds: float = 2.0) -> int:
    """The status of /api/user with ``token`` once it is ``expected``, or the last one seen."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        status = (await b.get("/api/user", headers=bearer(token))).status_code
        if status == expected or asyncio.get_running_loop().time() > deadline:
            return status
        await asyncio.sleep(0.02)


async def test_a_revocation_is_refused_at_once_by_the_worker_that_made_it(
    browser: Browser, world: World, issue: Any
) -> None:
    token = await issue(world.member)
    for _ in range(3):  # served from the caches after the first
        assert (await browser.get("/api/user", headers=bearer(token))).status_code == 200
    assert (await browser.delete(f"/api/access_tokens/{token}")).status_code == 204
    assert (await browser.get("/api/user", headers=bearer(token))).status_code == 401


async def test_another_worker_sees_the_revocation(
    browser: Browser, world: World, issue: Any, settings: Any
) -> None:
    other = create_app(settings)  # a second worker on the same database
    async with lifespan(other), Browser(other) as b2:
        token = await issue(world.member)
        for _ in range(3):
            assert (await b2.get("/api/user", headers=bearer(token))).status_code == 200
        assert (await browser.delete(f"/api/access_tokens/{token}")).status_code == 204
        # PostgreSQL: NOTIFY, milliseconds; SQLite: the poll, every 250 ms.
        assert await _status_soon(b2, token, 401) == 401


async def test_profile_changes_reach_the_cached_api_user(
    browser: Browser, world: World, issue: Any, db: Any
) -> None:
    token = await issue(world.member)
    for _ in range(2):
        assert (await browser.get("/api/user", headers=bearer(token))).json()["memberships"]
    membership = await spaces.membership_of(db, world.space.id, world.member.id)
    assert membership is not None
    await spaces.remove_member(db, world.space, membership.id)
    await db.commit()
    assert (await browser.get("/api/user", headers=bearer(token))).json()["memberships"] == []


async def test_a_new_space_host_is_served_at_once(
    browser: Browser, world: World, db: Any, new_browser: Any
) -> None:
    guest = new_browser("harbour.localhost:8000")
    assert (await guest.get("/")).status_code == 404  # unknown host (and remembered as such)
    await spaces.create_space(
        db, browser_settings(browser), subdomain="harbour", name="Harbour", owner=world.owner
    )
    await db.commit()
    assert (await guest.get("/")).status_code == 200


def browser_settings(browser: Browser) -> Any:
    return browser.http._transport.app.state.frontdesk.settings  # type: ignore[attr-defined]


async def test_last_used_is_written_in_batches(
    browser: Browser, world: World, issue: Any, state: Any, db: Any
) -> None:
    token = await issue(world.member)
    for _ in range(5):
        assert (await browser.get("/api/user", headers=bearer(token))).status_code == 200
    stmt = select(AccessToken.last_used_at).where(AccessToken.grant_type == "password")
    assert (await db.execute(stmt)).scalar_one() is None  # no write per request
    await state.db.write_token_use()
    db.expire_all()
    used = (await db.execute(stmt)).scalar_one()
    assert used is not None and abs((utcnow() - used).total_seconds()) < 60
    # Recording the time invalidates nothing: the token still works (and is still cached).
    assert (await browser.get("/api/user", headers=bearer(token))).status_code == 200


async def _revoke_behind_the_servers_back(settings: Any, token_owner_id: str) -> None:
    """Revoke tokens with plain SQL on a connection of its own: no invalidation is sent."""
    from frontdesk.store.db import create_engine

    engine = create_engine(settings)
    async with engine.begin() as conn:
        await conn.execute(
            update(AccessToken).where(AccessToken.user_id == token_owner_id).values(revoked_at=utcnow())
        )
    await engine.dispose()


@pytest.mark.postgres
async def test_while_the_postgres_channel_is_down_nothing_stale_is_served(
    browser: Browser, world: World, issue: Any, settings: Any, db: Any
) -> None:
    if settings.is_sqlite:
        pytest.skip("the LISTEN/NOTIFY channel is PostgreSQL's")
    token = await issue(world.member)
    for _ in range(3):
        assert (await browser.get("/api/user", headers=bearer(token))).status_code == 200
    # The listening connection dies; then a revocation happens that sends no notification.
    await db.execute(
        text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"
        )
    )
    await db.commit()
    await _revoke_behind_the_servers_back(settings, world.member.id)
    # Caching is off until the channel listens again, and it starts empty then.
    assert await _status_soon(browser, token, 401, seconds=3.0) == 401


@pytest.fixture
def redis_settings(settings: Any) -> Any:
    url = os.environ.get("FRONTDESK_TEST_REDIS_URL")
    if not url:
        pytest.skip("set FRONTDESK_TEST_REDIS_URL=redis://127.0.0.1:6379/15 (as .ci/run does)")
    if not settings.is_sqlite:
        pytest.skip("the Redis channel is chosen for SQLite; PostgreSQL uses LISTEN/NOTIFY")
    return settings.model_copy(update={"redis_url": url})


async def test_the_redis_channel_reaches_another_worker_and_survives_a_lost_subscription(
    redis_settings: Any, world: World, issue: Any
) -> None:
    from redis.asyncio import Redis

    first, second = create_app(redis_settings), create_app(redis_settings)
    async with lifespan(first), lifespan(second), Browser(first) as b1, Browser(second) as b2:
        assert first.state.frontdesk.db.channel.name == "redis"
        token = await issue(world.member)
        for _ in range(3):
            assert (await b2.get("/api/user", headers=bearer(token))).status_code == 200
        assert (await b1.delete(f"/api/access_tokens/{token}")).status_code == 204
        assert await _status_soon(b2, token, 401) == 401
        # A lost subscription: the next revocation goes unannounced, yet is never missed.
        other = await issue(world.admin)
        for _ in range(3):
            assert (await b2.get("/api/user", headers=bearer(other))).status_code == 200
        redis = Redis.from_url(redis_settings.redis_url)
        await redis.client_kill_filter(_type="pubsub")
        await redis.aclose()
        await _revoke_behind_the_servers_back(redis_settings, world.admin.id)
        assert await _status_soon(b2, other, 401, seconds=3.0) == 401


async def test_concurrent_writes_in_one_worker_all_succeed(
    browser: Browser, world: World, issue: Any
) -> None:
    """SQLite has one writer: writes of one process queue instead of failing as locked."""
    token = await issue(world.admin, scopes="read_user")
    results = await asyncio.gather(
        *(
            browser.post(f"/api/access_tokens/{token}/space", json={"space_id": world.space.subdomain})
            for _ in range(25)
        )
    )
    assert [r.status_code for r in results] == [201] * 25
    assert len({r.json()["token"] for r in results}) == 25


async def test_a_worker_with_a_tiny_cache_serves_and_refuses_every_token_right(
    browser: Browser, world: World, issue: Any, settings: Any
) -> None:
    """FRONTDESK_CACHE_MAX_ENTRIES: a worker whose caches hold two entries, asked about five
    tokens in turn, drops and reloads them all the time and answers every call as a worker
    without the limit would, a token revoked elsewhere included."""
    small = create_app(settings.model_copy(update={"cache_max_entries": 2}))
    async with lifespan(small), Browser(small) as b2:
        tokens = [await issue(world.member) for _ in range(5)]
        for _ in range(3):
            for token in tokens:
                assert (await b2.get("/api/user", headers=bearer(token))).status_code == 200
        assert (await browser.delete(f"/api/access_tokens/{tokens[0]}")).status_code == 204
        assert await _status_soon(b2, tokens[0], 401) == 401
        for token in tokens[1:]:
            assert (await b2.get("/api/user", headers=bearer(token))).status_code == 200
