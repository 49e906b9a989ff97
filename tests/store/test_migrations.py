"""Alembic migrations: they build the schema the models describe, and the app refuses to run
on a database that is not at the head revision."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from frontdesk.store.db import Database, DatabaseNotMigrated, create_engine
from frontdesk.store.migrate import head_revision, upgrade
from frontdesk.store.models import Base
from frontdesk.web.app import create_app
from tests.support import lifespan, make_settings


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
        async with lifespan(app):
            pass


async def test_sqlite_serves_on_the_loop_thread_and_on_aiosqlites(tmp_path: Path) -> None:
    """Both ways of running SQLite (FRONTDESK_SQLITE_THREAD) serve requests, in WAL mode."""
    from sqlalchemy import text

    from tests.support import Browser

    for thread_setting in (False, True):
        settings = make_settings(
            f"sqlite:///{tmp_path}/t{int(thread_setting)}.db", sqlite_thread=thread_setting
        )
        await upgrade(settings)
        app = create_app(settings)
        async with lifespan(app), Browser(app) as browser:
            assert (await browser.signup(f"t{int(thread_setting)}@example.com")).status_code == 303
            assert (await browser.get("/")).status_code == 200
        db = Database(settings)
        async with db.engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        await db.dispose()
