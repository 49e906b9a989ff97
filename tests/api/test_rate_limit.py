"""The API rate limit: per user and app (Cobot: 60 requests a minute), 429 with Retry-After,
shared by every worker through Redis."""

from __future__ import annotations

from typing import Any

import pytest

from frontdesk.oauth.models import NewToken
from frontdesk.security.randoms import ACCESS_TOKEN_PREFIX, new_secret
from frontdesk.settings import Settings
from frontdesk.store.sql_storage import SqlStorage
from frontdesk.web.app import create_app
from tests.api.conftest import World
from tests.oauth_support import register_app
from tests.support import Browser, lifespan, make_settings

REDIS_URL = "redis://127.0.0.1:6379/14"
LIMIT = {"api_rate_limit": "3/minute"}


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def token_for(state: Any, db: Any, client_id: str, user: Any) -> str:
    raw = new_secret(ACCESS_TOKEN_PREFIX)
    storage = SqlStorage(db, state.server_secret)
    await storage.save_token(
        raw, NewToken(client_id=client_id, user_id=user.id, scopes=("read_user",), grant_type="password")
    )
    await db.commit()
    return raw


async def burst(b: Browser, token: str, n: int) -> list[int]:
    return [(await b.get("/api/user", headers=bearer(token))).status_code for _ in range(n)]


def test_default_is_cobots_limit() -> None:
    assert Settings.model_fields["api_rate_limit"].default == "60/minute"
    assert make_settings("sqlite:///x.db", api_rate_limit="0").api_rate_limit == ""
    with pytest.raises(ValueError, match="rate limit"):
        make_settings("sqlite:///x.db", api_rate_limit="lots")


@pytest.mark.rfc("6585 4")
@pytest.mark.parametrize("settings_overrides", [LIMIT])
async def test_429_with_retry_after(browser: Browser, world: World, issue: Any) -> None:
    token = await issue(world.member)
    assert await burst(browser, token, 3) == [200, 200, 200]
    limited = await browser.get("/api/user", headers=bearer(token))
    assert limited.status_code == 429
    assert limited.json()["error"] == "too_many_requests"
    assert limited.json()["error_description"]
    # The first of the three requests leaves the one-minute window in just under a minute.
    assert 50 <= int(limited.headers["retry-after"]) <= 60
    assert limited.headers["cache-control"] == "no-store"
    # Another token of the same user and app shares the allowance.
    assert await burst(browser, await issue(world.member), 1) == [429]


@pytest.mark.parametrize("settings_overrides", [LIMIT])
async def test_other_users_and_apps_are_unaffected(
    browser: Browser, world: World, issue: Any, state: Any, db: Any, new_browser: Any
) -> None:
    token = await issue(world.member)
    assert await burst(browser, token, 4) == [200, 200, 200, 429]
    assert await burst(browser, await issue(world.admin), 3) == [200, 200, 200]
    other_app = await register_app(state, db, world.owner, name="Other App")
    assert await burst(browser, await token_for(state, db, other_app.client_id, world.member), 3) == [200] * 3
    # On another host the same user and app are still limited.
    assert await burst(new_browser("co-up.localhost:8000"), token, 1) == [429]


@pytest.mark.parametrize("settings_overrides", [LIMIT])
async def test_bad_tokens_do_not_count(browser: Browser, world: World, issue: Any) -> None:
    for _ in range(5):
        assert (await browser.get("/api/user", headers=bearer("fdat_nope"))).status_code == 401
    assert (await browser.get("/api/user")).status_code == 401
    assert await burst(browser, await issue(world.member), 3) == [200, 200, 200]


@pytest.mark.parametrize("settings_overrides", [{"api_rate_limit": "0"}])
async def test_switched_off(browser: Browser, world: World, issue: Any) -> None:
    assert set(await burst(browser, await issue(world.member), 70)) == {200}


async def redis_available() -> bool:
    try:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        try:
            return bool(await client.ping())
        finally:
            await client.aclose()
    except Exception:
        return False


@pytest.mark.parametrize("settings_overrides", [{**LIMIT, "redis_url": REDIS_URL}])
async def test_workers_share_the_limit_through_redis(
    settings: Settings, world: World, issue: Any, app: Any
) -> None:
    if not await redis_available():
        pytest.skip(f"Redis not reachable at {REDIS_URL}: start redis-server to test shared limits")
    token = await issue(world.member)
    second = create_app(settings)  # another worker: same database, same Redis
    async with lifespan(second), Browser(app) as one, Browser(second) as two:
        assert await burst(one, token, 2) == [200, 200]
        assert await burst(two, token, 1) == [200]
        assert await burst(two, token, 1) == [429]
        assert await burst(one, token, 1) == [429]
        # Another user is counted separately in the shared store too.
        assert await burst(two, await issue(world.admin), 1) == [200]
