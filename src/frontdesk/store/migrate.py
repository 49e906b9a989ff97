"""Alembic, driven from Python so ``frontdesk db upgrade`` works from an installed package.

A server never loads Alembic (about 10 MiB of modules with Mako and Pygments in every process;
docs/performance.md, "Memory"): it learns the code's head revision from ``frontdesk serve``,
which read it before it became the server (cli.py, :data:`HEAD_FROM_SERVE`), and reads the
database's revision from Alembic's version table itself (:func:`current_revision`).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Final

from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncConnection

from frontdesk.settings import Settings

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
# Alembic's version table (its default name; store/migrations/env.py keeps it): one row, the
# revision the schema is at.
VERSION_TABLE = "alembic_version"

# Set by ``frontdesk serve`` for the server it becomes and every worker of it (cli.py): the head
# revision it read with Alembic when it checked the schema. Not a setting.
HEAD_FROM_SERVE: Final = "_FRONTDESK_HEAD_REVISION"


def alembic_config(url: str | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


@functools.cache
def head_revision() -> str | None:
    """The code's head revision. The scripts are part of the installed package, so it is read
    once per process, or handed over by ``frontdesk serve`` (:data:`HEAD_FROM_SERVE`)."""
    handed = os.environ.get(HEAD_FROM_SERVE)
    if handed:
        return handed
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(sync_conn: Connection) -> str | None:
    """The revision the database's schema is at; ``None`` before the first migration."""
    if not inspect(sync_conn).has_table(VERSION_TABLE):
        return None
    rows = sync_conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()  # noqa: S608 - a constant
    if len(rows) > 1:  # our history is linear (one head): several rows are not our schema
        raise RuntimeError(f"the database has {len(rows)} Alembic revisions: {', '.join(rows)}")
    return rows[0] if rows else None


async def current_and_head(conn: AsyncConnection) -> tuple[str | None, str | None]:
    return await conn.run_sync(current_revision), head_revision()


async def upgrade(settings: Settings, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the schema to ``revision``; returns (before, after)."""
    from frontdesk.store.db import create_engine

    engine = create_engine(settings, pool_size=1)
    try:
        async with engine.begin() as conn:
            before, _ = await current_and_head(conn)

            def _run(sync_conn: Connection) -> None:
                from alembic import command

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
