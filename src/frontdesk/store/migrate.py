"""Alembic, driven from Python so ``frontdesk db upgrade`` works from an installed package."""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from frontdesk.settings import Settings

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


@functools.cache
def head_revision() -> str | None:
    """The code's head revision. The scripts are part of the installed package, so it is read
    once per process (by the supervisor before it forks the workers: frontdesk/preload.py)."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def current_and_head(conn: AsyncConnection) -> tuple[str | None, str | None]:
    def _current(sync_conn: Connection) -> str | None:
        return MigrationContext.configure(sync_conn).get_current_revision()

    return await conn.run_sync(_current), head_revision()


async def upgrade(settings: Settings, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the schema to ``revision``; returns (before, after)."""
    from frontdesk.store.db import create_engine

    engine = create_engine(settings, pool_size=1)
    try:
        async with engine.begin() as conn:
            before, _ = await current_and_head(conn)

            def _run(sync_conn: Connection) -> None:
                cfg = alembic_config()
                cfg.attributes["connection"] = sync_conn
                # Migrations that convert sealed values read the server secret from these.
                cfg.attributes["settings"] = settings
                command.upgrade(cfg, revision)

            await conn.run_sync(_run)
            after, _ = await current_and_head(conn)
        return before, after
    finally:
        await engine.dispose()
