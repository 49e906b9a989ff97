"""``GET /readyz`` (services/readiness.py, web/routes/api/health.py): the database by a real
query, migrations at head, a signing key, Redis when configured; 503 naming the failing part,
quickly when a dependency hangs."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text

from frontdesk.services.readiness import ReadinessChecker
from frontdesk.services.signing_keys import ensure_key
from frontdesk.web.app import create_app
from tests.support import Browser, lifespan, make_settings

REDIS_URL = os.environ.get("FRONTDESK_TEST_REDIS_URL")


async def _with_key(state: Any) -> None:
    async with state.db.unit_of_work() as uow:
        await ensure_key(uow.session, state.server_secret)
        await uow.commit()


async def test_ready_when_every_check_passes(state: Any, browser: Browser) -> None:
    await _with_key(state)
    response = await browser.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "migrations": "ok", "signing_keys": "ok", "redis": "not configured"},
    }


async def test_readyz_is_never_cached(state: Any, browser: Browser) -> None:
    await _with_key(state)
    response = await browser.get("/readyz")
    assert response.headers["cache-control"] == "no-store"


async def test_a_missing_signing_key_is_named(browser: Browser) -> None:
    response = await browser.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["checks"]["signing_keys"].startswith("fail")
    assert body["checks"]["database"] == "ok"


async def test_readyz_answers_on_any_host(state: Any, new_browser: Any) -> None:
    await _with_key(state)
    response = await new_browser(host="10.1.2.3").get("/readyz")
    assert response.status_code == 200


async def test_readyz_is_not_rate_limited(state: Any, browser: Browser) -> None:
    await _with_key(state)
    statuses = {(await browser.get("/readyz")).status_code for _ in range(60)}
    assert statuses == {200}


@pytest.fixture
async def set_revision(state: Any) -> AsyncIterator[Any]:
    """Sets the schema's recorded revision; the real one is back after the test."""
    async with state.db.engine.begin() as conn:
        head = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()

    async def set_to(revision: str | None = None) -> None:
        async with state.db.engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": revision or head})

    yield set_to
    await set_to(head)


async def test_migrations_behind_head_are_named_and_never_cached(
    state: Any, browser: Browser, set_revision: Any
) -> None:
    await _with_key(state)
    await set_revision("0001")
    behind = await browser.get("/readyz")
    assert behind.status_code == 503
    assert behind.json()["checks"]["migrations"].startswith("fail")
    await set_revision()
    # A failure is not remembered: the next probe after the upgrade is ready.
    assert (await browser.get("/readyz")).status_code == 200


async def test_migrations_at_head_are_remembered_for_a_short_time(
    app: Any, state: Any, browser: Browser, set_revision: Any
) -> None:
    await _with_key(state)
    now = [1000.0]
    app.state.readiness = ReadinessChecker(state.db, state.settings, clock=lambda: now[0])
    assert (await browser.get("/readyz")).status_code == 200
    await set_revision("0001")
    now[0] += ReadinessChecker.migrations_ok_for - 1
    assert (await browser.get("/readyz")).status_code == 200
    now[0] += 2
    response = await browser.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["migrations"].startswith("fail")


# ---- unreachable dependencies ---------------------------------------------------------------


@pytest.fixture
async def closed_port() -> int:
    """A local TCP port nothing listens on."""
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port: int = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    return port


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A local TCP port that accepts connections and never answers (a hung server)."""
    writers: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in writers:
        writer.close()
    server.close()


async def _readyz_of(settings: Any) -> Any:
    """``/readyz`` of an application whose dependencies may be down (its lifespan, which
    needs the database, is not run)."""
    async with Browser(create_app(settings, check_schema=False)) as b:
        return await b.get("/readyz")


async def test_an_unreachable_database_is_named(closed_port: int) -> None:
    settings = make_settings(
        f"postgresql://postgres@127.0.0.1:{closed_port}/frontdesk", cache_invalidation="poll"
    )
    response = await _readyz_of(settings)
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"].startswith("fail")
    assert checks["migrations"].startswith("fail")
    assert checks["redis"] == "not configured"


async def test_a_hung_database_answers_503_within_the_timeout(silent_port: int) -> None:
    settings = make_settings(
        f"postgresql://postgres@127.0.0.1:{silent_port}/frontdesk",
        cache_invalidation="poll",
        readyz_timeout_seconds=0.3,
    )
    started = time.monotonic()
    response = await _readyz_of(settings)
    assert response.status_code == 503
    assert time.monotonic() - started < 2
    assert response.json()["checks"]["database"] == "fail: no answer within 0.3s"


async def test_an_unreachable_redis_is_named(database_url: str, closed_port: int) -> None:
    settings = make_settings(
        database_url, redis_url=f"redis://127.0.0.1:{closed_port}/0", cache_invalidation="poll"
    )
    application = create_app(settings)
    async with lifespan(application), Browser(application) as b:
        await _with_key(application.state.frontdesk)
        response = await b.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["redis"].startswith("fail")
    assert checks["database"] == "ok"


@pytest.mark.skipif(not REDIS_URL, reason="FRONTDESK_TEST_REDIS_URL not set")
async def test_a_reachable_redis_is_ok(database_url: str) -> None:
    settings = make_settings(database_url, redis_url=REDIS_URL, cache_invalidation="poll")
    application = create_app(settings)
    async with lifespan(application), Browser(application) as b:
        await _with_key(application.state.frontdesk)
        response = await b.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["redis"] == "ok"


async def test_healthz_stays_liveness_without_the_database(closed_port: int) -> None:
    settings = make_settings(
        f"postgresql://postgres@127.0.0.1:{closed_port}/frontdesk", cache_invalidation="poll"
    )
    async with Browser(create_app(settings, check_schema=False)) as b:
        response = await b.get("/healthz")
    assert response.status_code == 200
