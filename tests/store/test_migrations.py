"""Alembic migrations: they build the schema the models describe, and the app refuses to run
on a database that is not at the head revision."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from asgi_lifespan import LifespanManager

from frontdesk.store.db import Database, DatabaseNotMigrated, create_engine
from frontdesk.store.migrate import head_revision, upgrade
from frontdesk.store.models import Base
from frontdesk.web.app import create_app
from tests.support import make_settings


async def test_migrations_match_the_models(settings: Any) -> None:
    engine = create_engine(settings)
    async with engine.connect() as conn:

        def diff(sync_conn: Any) -> list[Any]:
            return compare_metadata(MigrationContext.configure(sync_conn), Base.metadata)

        differences = await conn.run_sync(diff)
    await engine.dispose()
    assert differences == []


async def test_fresh_database_is_migrated_to_head(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path}/new.db")
    before, after = await upgrade(settings)
    assert before is None and after == head_revision()
    db = Database(settings)
    await db.check_migrated()
    await db.dispose()
    assert await upgrade(settings) == (after, after)


async def test_app_refuses_to_start_on_an_unmigrated_database(tmp_path: Path) -> None:
    app = create_app(make_settings(f"sqlite:///{tmp_path}/empty.db"))
    with pytest.raises(DatabaseNotMigrated, match="Run `frontdesk db upgrade`"):
        async with LifespanManager(app):
            pass


async def test_sqlite_runs_on_the_loop_thread_by_default_and_on_aiosqlites_on_request(tmp_path: Path) -> None:
    from sqlalchemy import text

    from frontdesk.store.sqlite_inline import InlineConnection

    for thread_setting, inline in ((False, True), (True, False)):
        settings = make_settings(
            f"sqlite:///{tmp_path}/t{int(thread_setting)}.db", sqlite_thread=thread_setting
        )
        await upgrade(settings)
        db = Database(settings)
        async with db.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            assert isinstance(raw.driver_connection, InlineConnection) is inline
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        await db.dispose()
