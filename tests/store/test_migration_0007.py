"""Migration 0007 (Cobot's membership fields, users.picture_url) on a database with rows in it:
existing memberships are confirmed as of their creation; a downgrade takes the columns away."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Connection, inspect, text
from sqlalchemy.engine import make_url

from frontdesk.store.db import create_engine
from frontdesk.store.migrate import alembic_config, upgrade
from tests.conftest import PG_URL, _admin_sql
from tests.support import make_settings

CREATED = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of its own (migrations are run on it step by step)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/m.db"
        return
    if not PG_URL:
        pytest.skip("no PostgreSQL for tests")
    name = f"frontdesk_mig_{secrets.token_hex(4)}"
    await _admin_sql(PG_URL, f"CREATE DATABASE {name}")
    try:
        yield str(make_url(PG_URL).set(database=name))
    finally:
        await _admin_sql(PG_URL, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def _run(url: str, statement: str, params: dict[str, Any] | None = None) -> list[Any]:
    engine = create_engine(make_settings(url), pool_size=1)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(text(statement), params or {})
            return list(result.all()) if result.returns_rows else []
    finally:
        await engine.dispose()


async def _downgrade(url: str, revision: str) -> None:
    engine = create_engine(make_settings(url), pool_size=1)
    try:
        async with engine.begin() as conn:

            def run(sync_conn: Connection) -> None:
                cfg = alembic_config()
                cfg.attributes["connection"] = sync_conn
                command.downgrade(cfg, revision)

            await conn.run_sync(run)
    finally:
        await engine.dispose()


async def _columns(url: str, table: str) -> set[str]:
    engine = create_engine(make_settings(url), pool_size=1)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(lambda c: {col["name"] for col in inspect(c).get_columns(table)})
    finally:
        await engine.dispose()


async def test_existing_memberships_are_confirmed_as_of_their_creation(fresh_url: str) -> None:
    settings = make_settings(fresh_url)
    await upgrade(settings, "0006")
    created = CREATED if not fresh_url.startswith("sqlite") else CREATED.replace(tzinfo=None)
    await _run(
        fresh_url,
        "INSERT INTO users (id, email, email_key, name, password_hash, created_at, updated_at) "
        "VALUES ('u1', 'a@example.com', 'a@example.com', 'A', 'x', :t, :t)",
        {"t": created},
    )
    await _run(
        fresh_url,
        "INSERT INTO spaces (id, subdomain, name, owner_id, created_at) VALUES ('s1', 'sp', 'Sp', 'u1', :t)",
        {"t": created},
    )
    await _run(
        fresh_url,
        "INSERT INTO memberships (id, space_id, user_id, role, created_at) "
        "VALUES ('m1', 's1', 'u1', 'admin', :t)",
        {"t": created},
    )
    await upgrade(settings, "0007")
    rows = await _run(
        fresh_url, "SELECT confirmed_at = created_at, canceled_to FROM memberships WHERE id = 'm1'"
    )
    assert [(bool(r[0]), r[1]) for r in rows] == [(True, None)]
    assert (await _run(fresh_url, "SELECT picture_url FROM users"))[0][0] is None
    await _downgrade(fresh_url, "0006")
    assert {"confirmed_at", "canceled_to"}.isdisjoint(await _columns(fresh_url, "memberships"))
    assert "picture_url" not in await _columns(fresh_url, "users")
    assert len(await _run(fresh_url, "SELECT id FROM memberships")) == 1
