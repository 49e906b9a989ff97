"""Per-worker caches and their invalidation (frontdesk.store.cache, store.sqlite_writes)."""

from __future__ import annotations

from typing import Any

from asgi_lifespan import LifespanManager
from sqlalchemy import func, select

from frontdesk.store.cache import MISSING, CacheBus, TTLCache
from frontdesk.store.models import AccessToken, CacheEvent
from frontdesk.web.app import create_app
from tests.api.conftest import World
from tests.support import Browser


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_ttl_cache_bounds_expiry_and_generations() -> None:
    cache = TTLCache(maxsize=10, ttl=60)
    cache.put("a", 1)
    assert cache.get("a") == 1 and cache.get("b") is MISSING
    seen = cache.generation
    cache.clear()
    cache.put("a", 2, seen)  # read before the invalidation: must not be stored
    assert cache.get("a") is MISSING
    for i in range(25):
        cache.put(i, i)
    assert len(cache) <= 10 and cache.get(24) == 24
    expired = TTLCache(maxsize=10, ttl=-1)
    expired.put("x", 1)
    assert expired.get("x") is MISSING


async def test_token_lookups_are_cached_and_revocation_drops_them(
    browser: Browser, world: World, issue: Any, state: Any
) -> None:
    token = await issue(world.member)
    assert (await browser.get("/api/user", headers=bearer(token))).status_code == 200
    assert len(state.db.cache.tokens) == 1
    assert (await browser.delete(f"/api/access_tokens/{token}")).status_code == 204
    assert len(state.db.cache.tokens) == 0  # dropped by the committing worker at once
    assert (await browser.get("/api/user", headers=bearer(token))).status_code == 401


async def test_issuing_tokens_does_not_flush_the_cache(
    browser: Browser, world: World, issue: Any, state: Any, db: Any
) -> None:
    token = await issue(world.member)
    await browser.get("/api/user", headers=bearer(token))
    before = (await db.execute(select(func.count()).select_from(CacheEvent))).scalar_one()
    await issue(world.admin)  # a new token cannot make any cached read stale
    assert len(state.db.cache.tokens) == 1
    assert (await db.execute(select(func.count()).select_from(CacheEvent))).scalar_one() == before


async def test_another_worker_sees_the_revocation_through_the_events_table(
    browser: Browser, world: World, issue: Any, settings: Any
) -> None:
    other = create_app(settings)  # a second worker on the same database
    async with LifespanManager(other):
        other_state = other.state.frontdesk
        other_state.db.cache.poll_interval = 0.05
        token = await issue(world.member)
        async with Browser(other) as b2:
            assert (await b2.get("/api/user", headers=bearer(token))).status_code == 200
            assert len(other_state.db.cache.tokens) == 1
            assert (await browser.delete(f"/api/access_tokens/{token}")).status_code == 204
            import asyncio

            for _ in range(40):  # the poller runs every 50 ms here (250 ms by default)
                if len(other_state.db.cache.tokens) == 0:
                    break
                await asyncio.sleep(0.05)
            assert (await b2.get("/api/user", headers=bearer(token))).status_code == 401


async def test_profile_changes_reach_the_cached_api_user(
    browser: Browser, world: World, issue: Any, db: Any, state: Any
) -> None:
    from frontdesk.services import spaces

    token = await issue(world.member)
    assert (await browser.get("/api/user", headers=bearer(token))).json()["memberships"]
    membership = await spaces.membership_of(db, world.space.id, world.member.id)
    await spaces.remove_member(db, world.space, membership.id)
    assert (await browser.get("/api/user", headers=bearer(token))).json()["memberships"] == []


async def test_last_used_is_written_in_batches(
    browser: Browser, world: World, issue: Any, state: Any, db: Any
) -> None:
    token = await issue(world.member)
    for _ in range(5):
        await browser.get("/api/user", headers=bearer(token))
    row = (await db.execute(select(AccessToken).where(AccessToken.grant_type == "password"))).scalar_one()
    assert row.last_used_at is None  # no write per request
    await state.db.cache.flush_touches(state.db.sessionmaker)
    db.expire_all()
    row = (await db.execute(select(AccessToken).where(AccessToken.grant_type == "password"))).scalar_one()
    assert row.last_used_at is not None
    assert len(state.db.cache.tokens) == 1  # writing last_used_at invalidates nothing


async def test_a_failed_poll_starts_clean(state: Any) -> None:
    bus = CacheBus()
    bus.tokens.put("x", 1)

    class Broken:
        def __call__(self) -> Any:
            raise RuntimeError("database down")

    import asyncio

    bus.poll_interval = 0.01
    bus.start(Broken())  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    await bus.stop()
    assert bus.tokens.get("x") is MISSING


async def test_sqlite_writers_queue_in_process(world: World, db: Any, settings: Any) -> None:
    import pytest

    from frontdesk.store import sqlite_writes
    from frontdesk.store.models import User

    if not settings.is_sqlite:
        pytest.skip("the in-process write queue is for SQLite only")
    holder = db.info[sqlite_writes.KEY]
    user = (await db.execute(select(User))).scalars().first()
    assert user is not None and not holder.lock.locked()
    user.name = "Renamed"
    await db.flush()
    assert holder.lock.locked()  # the first write of the transaction took the lock
    await db.commit()
    assert not holder.lock.locked()
    user.name = "Again"
    await db.flush()
    assert holder.lock.locked()
    await db.rollback()
    assert not holder.lock.locked()
