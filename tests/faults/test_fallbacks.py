"""The product's answers to the failures the suite provokes, in process (no servers, no
PostgreSQL or Redis needed): the rate limits' Redis fallback (services/throttle.py) and the
503 for a database outage (store/db.py ``is_unavailable``, web/errors.py)."""

from __future__ import annotations

import logging

import httpx
import pytest
from limits import parse
from limits.aio.storage import MemoryStorage, Storage
from limits.errors import StorageError
from sqlalchemy import exc as sa_exc
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from frontdesk.services.throttle import FallbackStorage, Rule, Throttle, make_storage
from frontdesk.store.db import is_unavailable
from frontdesk.web.errors import UnavailableMiddleware
from tests.e2e.conftest import free_port


class Flaky(MemoryStorage):
    """A Redis stand-in that fails while ``down``."""

    def __init__(self) -> None:
        super().__init__()
        self.down = True
        self.calls = 0

    async def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        self.calls += 1
        if self.down:
            raise StorageError(ConnectionError("refused"))
        return await super().incr(key, expiry, amount)

    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        self.calls += 1
        if self.down:
            raise StorageError(ConnectionError("refused"))
        return await super().acquire_entry(key, limit, expiry, amount)


async def test_an_unreachable_redis_falls_back_to_counting_in_the_worker(
    caplog: pytest.LogCaptureFixture,
) -> None:
    storage = make_storage(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    assert isinstance(storage, FallbackStorage)
    throttle = Throttle(storage)
    rule = Rule("api", parse("3/minute"))
    with caplog.at_level(logging.WARNING, logger="frontdesk.throttle"):
        waits = [await throttle.consume(rule, "user:app") for _ in range(5)]
        first = await throttle.first_use("dpop", "jti-1", 60)
        again = await throttle.first_use("dpop", "jti-1", 60)
    assert waits[:3] == [None, None, None]
    assert waits[3] is not None  # the limit still holds, counted here
    assert (first, again) == (True, False)  # the replay guard too, per worker
    assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1
    assert "Redis unreachable" in caplog.records[0].message
    assert len(caplog.records) == 1  # one warning per outage, not one per call


async def test_redis_is_tried_again_and_used_once_back(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr("frontdesk.services.throttle.time.monotonic", lambda: clock[0])
    primary = Flaky()
    storage = FallbackStorage(primary)
    assert await storage.incr("k", 60) == 1  # from memory
    calls = primary.calls
    assert await storage.incr("k", 60) == 2  # Redis is not asked again at once
    assert primary.calls == calls
    primary.down = False
    clock[0] += 6  # past REDIS_RETRY_SECONDS
    with caplog.at_level(logging.WARNING, logger="frontdesk.throttle"):
        assert await storage.incr("k", 60) == 1  # Redis's own count
    assert primary.calls == calls + 1
    assert "Redis is back" in caplog.text
    assert storage.down_since is None


def test_the_fallback_storage_is_a_limits_storage() -> None:
    assert isinstance(FallbackStorage(Flaky()), Storage)


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "refused"),
        ConnectionError("unexpected connection_lost() call"),
        TimeoutError(),
        sa_exc.OperationalError("SELECT 1", {}, Exception("the database system is starting up")),
        sa_exc.InterfaceError("SELECT 1", {}, Exception("connection is closed")),
        sa_exc.DBAPIError("SELECT 1", {}, Exception("closed"), connection_invalidated=True),
        sa_exc.TimeoutError("QueuePool limit reached"),
    ],
)
def test_connection_failures_are_an_outage(error: BaseException) -> None:
    assert is_unavailable(error)


@pytest.mark.parametrize(
    "error",
    [
        sa_exc.IntegrityError("INSERT", {}, Exception("duplicate key")),
        sa_exc.ProgrammingError("SELEC", {}, Exception("syntax error")),
        ValueError("a bug"),
        KeyError("a bug"),
    ],
)
def test_other_errors_are_not_an_outage(error: BaseException) -> None:
    assert not is_unavailable(error)


def outage_app(error: BaseException) -> Starlette:
    async def fail(request: Request) -> PlainTextResponse:
        raise error

    routes = [
        Route(path, fail, methods=["GET", "POST"]) for path in ("/oauth/access_token", "/api/user", "/login")
    ]
    app = Starlette(routes=routes)
    app.add_middleware(UnavailableMiddleware, unavailable=is_unavailable)
    return app


@pytest.mark.rfc("6749 5.2")
async def test_the_token_endpoint_answers_temporarily_unavailable() -> None:
    app = outage_app(ConnectionRefusedError(111, "refused"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.post("/oauth/access_token", data={"grant_type": "password"})
    assert r.status_code == 503
    assert r.headers["retry-after"] == "2"
    assert r.headers["cache-control"] == "no-store"
    assert r.json()["error"] == "temporarily_unavailable"


async def test_the_api_answers_503_with_retry_after() -> None:
    app = outage_app(sa_exc.OperationalError("SELECT 1", {}, Exception("refused")))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/api/user")
    assert r.status_code == 503
    assert r.headers["retry-after"] == "2"
    assert r.json()["error"] == "temporarily_unavailable"


async def test_a_page_answers_503() -> None:
    app = outage_app(ConnectionRefusedError(111, "refused"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/login")
    assert r.status_code == 503
    assert r.headers["retry-after"] == "2"
    assert "briefly unavailable" in r.text


async def test_a_bug_is_not_hidden_behind_a_503() -> None:
    app = outage_app(KeyError("a bug"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t"
    ) as c:
        r = await c.get("/api/user")
    assert r.status_code == 500


async def test_a_burst_shares_a_few_redis_connections_and_counts_exactly() -> None:
    """200 concurrent checks of one rate in one worker: they queue for the worker's
    REDIS_CONNECTIONS connections (named in CLIENT LIST) instead of opening 200, and Redis
    counts every one of them, so exactly the limit passes."""
    import asyncio
    import os

    import redis.asyncio

    from frontdesk.services.throttle import REDIS_CLIENT_NAME

    url = os.environ.get("FRONTDESK_TEST_REDIS_URL")
    if not url:
        pytest.skip("set FRONTDESK_TEST_REDIS_URL=redis://127.0.0.1:6379/15 (or run .ci/run)")
    admin = redis.asyncio.Redis.from_url(url)

    async def named_connections() -> int:
        return sum(1 for c in await admin.client_list() if c.get("name") == REDIS_CLIENT_NAME)

    before = await named_connections()
    throttle = Throttle(make_storage(url))
    rule = Rule("burst", parse("50/minute"))
    key = f"burst-{os.urandom(4).hex()}"
    waits = await asyncio.gather(*(throttle.consume(rule, key) for _ in range(200)))
    opened = await named_connections() - before
    await admin.aclose()
    assert sum(1 for w in waits if w is None) == 50
    assert opened > 0, "no connection named frontdesk-throttle: the count below would prove nothing"
    # docs/operations.md: at most 16 a worker (an unbounded pool opens one per waiting call).
    assert opened <= 16, opened
