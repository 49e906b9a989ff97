"""The database of one process: engine, session class, caches, unit of work, schema check."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session

from frontdesk.security.server_secret import ServerSecret
from frontdesk.settings import ConfigurationError, Settings
from frontdesk.store import sqlite_inline, sqlite_writes
from frontdesk.store.caching import CACHES_INFO, Caches, WriteTracker
from frontdesk.store.deferred import DeferredInserts
from frontdesk.store.invalidation import Channel, PollChannel, PostgresChannel, RedisChannel
from frontdesk.store.unit_of_work import UnitOfWork
from frontdesk.tasks import stop_task

log = logging.getLogger("frontdesk.store")
# How often the buffered last_used_at of tokens is written.
TOKEN_USE_SECONDS = 30.0


class DatabaseNotMigrated(RuntimeError):
    """The schema is missing or older than the code."""


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached now (down, restarting, the network
    cut, the pool exhausted), not that the request or the data is wrong: such a request is
    answered 503 with ``Retry-After`` (web/errors.py). A connection lost mid-request is
    invalidated by SQLAlchemy and the pool's pre-ping replaces the others, so the next
    requests recover by themselves once the database is back (docs/operations.md)."""
    from sqlalchemy import exc as sa_exc

    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        # Operational errors are the server's state, not the statement's (PEP 249): a
        # database starting up or shutting down, a connection refused, a locked SQLite file.
        # Interface errors include a connection closed under the driver.
        return isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError)
    # asyncpg raises connection failures unwrapped while connecting (ConnectionRefusedError,
    # ConnectionResetError, "unexpected connection_lost()"), and socket timeouts.
    return isinstance(exc, OSError | sa_exc.DisconnectionError | sa_exc.TimeoutError | asyncio.TimeoutError)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Inline connections wait for the write lock by awaiting (store/sqlite_inline.py): none.
    driver = getattr(dbapi_connection, "_connection", None)
    cursor.execute(f"PRAGMA busy_timeout={getattr(driver, 'busy_timeout_ms', 10000)}")
    cursor.close()


def create_private_file(path: Path) -> None:
    """Create the SQLite database file readable by its owner only (0600), as its secret file
    is; SQLite gives the -wal and -shm files it makes next to it the same mode. An existing
    file is left as it is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def create_engine(settings: Settings, *, pool_size: int | None = None) -> AsyncEngine:
    pool_size = pool_size or settings.db_pool_size
    if settings.is_sqlite:
        path = settings.sqlite_path()
        if path is not None:
            create_private_file(path)
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
    """One database for one process: the engine, a session class of its own (the caching
    layer's write tracking and, on SQLite, the write queue are installed on it, never on
    SQLAlchemy's global session class), the caches and their invalidation channel."""

    # The web layer's test for a database outage (it imports no SQLAlchemy): web/errors.py.
    unavailable = staticmethod(is_unavailable)

    def __init__(self, settings: Settings, server_secret: ServerSecret | None = None) -> None:
        self.settings = settings
        self.server_secret = server_secret or ServerSecret(settings.resolve_secret_key())
        self.engine = create_engine(settings)
        session_class = type("FrontdeskSession", (Session,), {})
        self.caches = Caches(maxsize=settings.cache_max_entries, ttl=settings.cache_ttl_seconds)
        self.sessionmaker = async_sessionmaker(
            self.engine,
            expire_on_commit=False,
            sync_session_class=session_class,
            info={CACHES_INFO: self.caches},
        )
        self.channel = _channel(settings, self.sessionmaker, self.caches)
        tracker = WriteTracker(self.caches, self.channel)
        lock = sqlite_writes.WriteLock() if settings.is_sqlite else None

        def before_deferred_write(session: Session, tables: set[str]) -> None:
            tracker.inserted(session, tables)
            if lock is not None:
                lock.acquire(session)

        # Deferred inserts go first: their rows must be sent before the tracker's and the
        # write queue's own commit hooks look at the transaction.
        DeferredInserts(before_deferred_write).install(session_class)
        tracker.install(session_class)
        if lock is not None:
            lock.install(session_class)
        self._tasks: list[asyncio.Task[None]] = []

    def session(self) -> AsyncSession:
        """A bare session (for the store's own jobs and tests); requests and commands use
        :meth:`unit_of_work`."""
        return self.sessionmaker()

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self)

    def start_background(self) -> None:
        """Listen for other processes' invalidations and write token use out in batches
        (inside the event loop)."""
        if not self._tasks:
            loop = asyncio.get_running_loop()
            self._tasks = [
                loop.create_task(self.channel.run(self.caches), name="cache-invalidation"),
                loop.create_task(self._write_token_use_periodically(), name="token-use"),
            ]

    async def _write_token_use_periodically(self) -> None:
        while True:
            await asyncio.sleep(TOKEN_USE_SECONDS)
            try:
                await self.write_token_use()
            except Exception:  # retried with the next batch; last_used_at is informational
                log.exception("could not record token use")

    async def write_token_use(self) -> None:
        """Write the buffered ``last_used_at`` times (one statement per 500 tokens)."""
        touched = self.caches.take_token_uses()
        if not touched:
            return
        async with self.unit_of_work() as uow:
            await uow.storage.mark_tokens_used(list(touched), max(touched.values()))
            await uow.commit()

    async def dispose(self) -> None:
        for task in self._tasks:
            await stop_task(task)
        self._tasks = []
        await self.write_token_use()
        await self.channel.close()
        await self.engine.dispose()

    async def check_migrated_when_reachable(self, seconds: float = 60.0) -> None:
        """:meth:`check_migrated`, waiting up to ``seconds`` while the database cannot be
        reached: a worker (re)started during a database outage waits for it instead of
        exiting, which would stop the whole server with it (docs/operations.md). A SQLite
        file that cannot be opened does not come back by waiting: that fails at once."""
        if self.settings.is_sqlite:
            await self.check_migrated()
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        warned = False
        while True:
            try:
                await self.check_migrated()
                return
            except Exception as exc:
                if not is_unavailable(exc) or loop.time() >= deadline:
                    raise
                if not warned:
                    log.warning("database unreachable at start-up (%s); waiting up to %.0f s", exc, seconds)
                    warned = True
                await asyncio.sleep(0.5)

    async def check_migrated(self) -> None:
        from frontdesk.store.migrate import current_and_head

        async with self.engine.connect() as conn:
            current, head = await current_and_head(conn)
        if current != head:
            state = "has no schema" if current is None else f"is at revision {current}, code needs {head}"
            raise DatabaseNotMigrated(
                f"The database {state}. Run `frontdesk db upgrade` (with the same FRONTDESK_DATABASE_URL)."
            )


def _channel(settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], caches: Caches) -> Channel:
    choice = settings.cache_invalidation
    if choice == "auto":
        choice = "postgres" if not settings.is_sqlite else ("redis" if settings.redis_url else "poll")
    if choice == "postgres":
        if settings.is_sqlite:
            raise ConfigurationError("FRONTDESK_CACHE_INVALIDATION=postgres needs a PostgreSQL database")
        return PostgresChannel(settings.database_url)
    if choice == "redis":
        if not settings.redis_url:
            raise ConfigurationError("FRONTDESK_CACHE_INVALIDATION=redis needs FRONTDESK_REDIS_URL")
        return RedisChannel(settings.redis_url)
    return PollChannel(sessionmaker)
