"""Fixtures: a migrated database per test (SQLite always, PostgreSQL when configured),
the application with its lifespan, and browsers on the main and space hosts."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from frontdesk.security.passwords import Passwords
from frontdesk.settings import Settings, normalize_database_url
from frontdesk.store.migrate import upgrade
from frontdesk.store.models import Base
from frontdesk.web.app import create_app
from tests.support import Browser, lifespan, make_settings

PG_URL = os.environ.get("FRONTDESK_TEST_DATABASE_URL")
PG_SKIP = (
    "PostgreSQL tests skipped: set FRONTDESK_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test "
    "(or run .ci/run) to run the suite against PostgreSQL too"
)


def run_async(factory: Callable[[], Any]) -> Any:
    """Run a coroutine to completion from sync code, even when a loop runs in this thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    run_async(lambda: upgrade(make_settings(f"sqlite:///{path}")))
    return path


async def _admin_sql(url: str, statement: str) -> None:
    engine = create_async_engine(normalize_database_url(url), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(statement))
    await engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A private database for this test run, so parallel runs never see each other's rows."""
    if not PG_URL:
        pytest.skip(PG_SKIP)
    name = f"frontdesk_test_{secrets.token_hex(4)}"
    run_async(lambda: _admin_sql(PG_URL, f"CREATE DATABASE {name}"))
    url = str(make_url(PG_URL).set(database=name))
    try:
        run_async(lambda: upgrade(make_settings(url)))
        yield url
    finally:
        run_async(lambda: _admin_sql(PG_URL, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


async def truncate_postgres(url: str) -> None:
    engine = create_async_engine(normalize_database_url(url))
    names = ", ".join(t.name for t in Base.metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    await engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database: a copy of the migrated SQLite template, or the test
    PostgreSQL database with every table emptied."""
    if request.param == "sqlite":
        path = tmp_path / "frontdesk.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    await truncate_postgres(url)
    return url


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a module to change settings for its tests."""
    return {}


@pytest.fixture
def settings(database_url: str, settings_overrides: dict[str, Any]) -> Settings:
    return make_settings(database_url, **settings_overrides)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Any]:
    application = create_app(settings)
    async with lifespan(application):
        yield application


@pytest.fixture
def state(app: Any) -> Any:
    return app.state.frontdesk


@pytest.fixture
async def browser(app: Any) -> AsyncIterator[Browser]:
    async with Browser(app) as b:
        yield b


@pytest.fixture
async def new_browser(app: Any) -> AsyncIterator[Callable[..., Browser]]:
    """Make more browsers (other hosts, other client addresses)."""
    made: list[Browser] = []

    def make(host: str = "localhost:8000", **kwargs: Any) -> Browser:
        b = Browser(app, host=host, **kwargs)
        made.append(b)
        return b

    yield make
    for b in made:
        await b.http.aclose()


@pytest.fixture
async def db(state: Any) -> AsyncIterator[Any]:
    async with state.db.session() as session:
        yield session


@pytest.fixture
def passwords() -> Passwords:
    return Passwords(time_cost=1, memory_kib=64, parallelism=1, concurrency=2)


def pytest_report_header(config: pytest.Config) -> str:
    return f"PostgreSQL: {PG_URL}" if PG_URL else PG_SKIP
