"""Engine, sessions and the "is the schema current?" check."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from frontdesk.settings import Settings
from frontdesk.store import sqlite_inline, sqlite_writes
from frontdesk.store.cache import CacheBus


class DatabaseNotMigrated(RuntimeError):
    """The schema is missing or older than the code."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_engine(settings: Settings, *, pool_size: int | None = None) -> AsyncEngine:
    pool_size = pool_size or settings.db_pool_size
    if settings.is_sqlite:
        path = settings.sqlite_path()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        # Sessions always end their transactions; the pool's extra rollback on return would only
        # cost another round trip through aiosqlite's worker thread.
        options: dict[str, Any] = {}
        if path is not None and not settings.sqlite_thread:
            options["async_creator"] = sqlite_inline.creator(str(path))
        engine = create_async_engine(
            settings.database_url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_reset_on_return=None,
            **options,
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        settings.database_url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
    )


class Database:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = create_engine(settings)
        self.cache = CacheBus()
        info: dict[str, Any] = {"cache_bus": self.cache}
        if settings.is_sqlite:
            info[sqlite_writes.KEY] = sqlite_writes.WriteLock()
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, info=info)

    def session(self) -> AsyncSession:
        return self.sessionmaker()

    def start_background(self) -> None:
        """Start polling for invalidations from other workers (inside the event loop)."""
        self.cache.start(self.sessionmaker)

    async def dispose(self) -> None:
        await self.cache.stop(self.sessionmaker)
        await self.engine.dispose()

    async def check_migrated(self) -> None:
        from frontdesk.store.migrate import current_and_head

        async with self.engine.connect() as conn:
            current, head = await current_and_head(conn)
        if current != head:
            state = "has no schema" if current is None else f"is at revision {current}, code needs {head}"
            raise DatabaseNotMigrated(
                f"The database {state}. Run `frontdesk db upgrade` (with the same FRONTDESK_DATABASE_URL)."
            )
