"""SQLite without a thread hop: the standard ``sqlite3`` module behind aiosqlite's interface.

SQLAlchemy's async SQLite dialect talks to aiosqlite, which runs every call (cursor, execute,
fetch, close, commit) on a helper thread and hands the result back through the event loop.
Each hand-off costs a thread wake-up; an authorization-code flow makes about twenty such
calls, so a request spends more time waiting for hand-offs than working. SQLite queries on
indexed rows take microseconds, so this module runs them directly on the event loop's thread
instead, behind the same awaitable interface (SQLAlchemy's ``async_creator`` hook).

What this trades: a statement blocks the event loop while it runs. Reads and short writes
take microseconds; a write that must wait for another *process*'s write lock waits in
SQLite's busy handler (``busy_timeout``), and that handler *sleeps* (1, 2, 5, 10 … 100 ms
between tries), which on the event loop's thread stopped the whole worker: with two workers
writing, each collision cost at least a millisecond in which the worker served nothing, and the
code flow ran on about one core of two (docs/performance.md, "The wait").

So a connection here has no busy timeout, and the write lock is taken *asynchronously*: before
the first write of a transaction, :func:`begin_immediate` runs ``BEGIN IMMEDIATE`` (which takes
SQLite's write lock at once or fails with ``SQLITE_BUSY``) and, while another process holds the
lock, awaits short ``asyncio.sleep`` steps between tries, so the worker's other requests run
meanwhile. Holding the write lock from the start, the transaction's statements and its commit
never meet ``SQLITE_BUSY``; reads outside a transaction (WAL readers are not blocked by
writers) that still do, in SQLite's rare recovery cases, are retried the same way. A statement
inside a transaction that meets it anyway falls back to SQLite's own busy handler.
Within a process, writers already queue on an asyncio lock (:mod:`frontdesk.store.sqlite_writes`),
and each transaction finishes without yielding. :data:`LOCK_WAITS` counts the waits.
``FRONTDESK_SQLITE_THREAD=true`` switches back to aiosqlite's thread (and SQLite's sleeping
busy handler).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# How long a writer waits for another process's write lock before the statement fails
# (``database is locked``), as ``busy_timeout`` did.
TIMEOUT_SECONDS = 10.0
# The pauses between tries. A write transaction holds the lock for well under a millisecond,
# and a timed pause lasts at least one (the event loop's timer resolution): so first try again
# after each turn of the loop's other ready work, for up to SPIN_SECONDS, then pause for
# 1, 2, 4 ms (SQLite's own handler sleeps 1, 2, 5, 10 … 100 ms, with the loop stopped).
SPIN_SECONDS = 0.0005
FIRST_PAUSE = 0.001
LONGEST_PAUSE = 0.004
# The statements before which pysqlite opens a transaction by itself (its legacy rule).
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


@dataclass
class LockWaits:
    """What this process's SQLite writers met (for docs/performance.md and metrics)."""

    begins: int = 0  # write transactions begun
    contended: int = 0  # of them, found another process holding the write lock
    tries: int = 0  # BEGIN IMMEDIATE attempts that failed with SQLITE_BUSY
    wait_seconds: float = 0.0  # time spent waiting for the lock, awaiting (the loop ran on)
    held_seconds: float = 0.0  # time the lock was held, from BEGIN IMMEDIATE to the transaction's end
    blocking: int = 0  # statements inside a transaction left to SQLite's sleeping busy handler


LOCK_WAITS = LockWaits()


def _busy(exc: sqlite3.OperationalError) -> bool:
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_BUSY


def _starts_write(sql: str) -> bool:
    return sql.lstrip()[:7].upper().startswith(WRITES)


async def _until_free(attempt: Callable[[], Any]) -> Any:
    """``attempt()`` again after short awaits while it fails with ``SQLITE_BUSY`` (nothing of
    it took effect then), up to :data:`TIMEOUT_SECONDS`."""
    started = time.monotonic()
    pause = 0.0
    while True:
        await asyncio.sleep(pause)
        try:
            result = attempt()
        except sqlite3.OperationalError as exc:
            waited = time.monotonic() - started
            if not _busy(exc) or waited > TIMEOUT_SECONDS:
                LOCK_WAITS.wait_seconds += waited
                raise
            LOCK_WAITS.tries += 1
            if waited >= SPIN_SECONDS:
                pause = min(max(pause * 2, FIRST_PAUSE), LONGEST_PAUSE)
            continue
        LOCK_WAITS.wait_seconds += time.monotonic() - started
        return result


async def begin_immediate(connection: sqlite3.Connection) -> None:
    """Begin a write transaction holding SQLite's write lock, waiting for it without blocking
    the event loop."""
    LOCK_WAITS.begins += 1
    try:
        connection.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if not _busy(exc):
            raise
        LOCK_WAITS.contended += 1
        LOCK_WAITS.tries += 1
        await _until_free(lambda: connection.execute("BEGIN IMMEDIATE"))
    _HOLDING[id(connection)] = time.monotonic()


# When each connection (by id) took the write lock, until its transaction ends.
_HOLDING: dict[int, float] = {}


def _released(connection: sqlite3.Connection) -> None:
    since = _HOLDING.pop(id(connection), None)
    if since is not None:
        LOCK_WAITS.held_seconds += time.monotonic() - since


def _blocking_retry(connection: sqlite3.Connection, attempt: Callable[[], Any]) -> Any:
    """Inside a transaction a statement cannot be retried later without the transaction's
    locks in question; leave the wait to SQLite's busy handler, as before this module waited."""
    LOCK_WAITS.blocking += 1
    connection.execute(f"PRAGMA busy_timeout={int(TIMEOUT_SECONDS * 1000)}")
    try:
        return attempt()
    finally:
        connection.execute("PRAGMA busy_timeout=0")


async def run_statement(connection: sqlite3.Connection, sql: str, attempt: Callable[[], Any]) -> Any:
    """Run one statement: a write outside a transaction begins one with the write lock first
    (:func:`begin_immediate`); ``SQLITE_BUSY`` outside a transaction is waited out by awaiting,
    inside one by SQLite's busy handler."""
    if not connection.in_transaction and connection.isolation_level is not None and _starts_write(sql):
        await begin_immediate(connection)
    try:
        return attempt()
    except sqlite3.OperationalError as exc:
        if not _busy(exc):
            raise
        if connection.in_transaction:
            return _blocking_retry(connection, attempt)
        return await _until_free(attempt)


class InlineCursor:
    """An aiosqlite-shaped cursor whose methods finish without suspending."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        cursor = self._cursor
        await run_statement(cursor.connection, sql, lambda: cursor.execute(sql, parameters))
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> InlineCursor:
        cursor = self._cursor
        rows = list(parameters)  # a retry must see them all again
        await run_statement(cursor.connection, sql, lambda: cursor.executemany(sql, rows))
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> Sequence[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    async def setinputsizes(self, *sizes: Any) -> None:
        return None

    async def nextset(self) -> None:
        return None


class _ImmediateQueue:
    """SQLAlchemy sets ``isolation_level`` by queueing a function on aiosqlite's thread
    (``_tx.put_nowait((future, fn))``); here the function runs at once."""

    @staticmethod
    def put_nowait(item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:  # handed to the awaiting caller, as aiosqlite does
            if future is not None:
                future.set_exception(exc)
            return
        if future is not None:
            future.set_result(result)


class InlineConnection:
    """An aiosqlite-shaped connection over a plain ``sqlite3`` connection."""

    _tx = _ImmediateQueue()
    # store/db.py's connect hook sets this busy timeout: none, the waits are awaited here.
    busy_timeout_ms = 0

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection
        self._connection: sqlite3.Connection | None = connection

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        return await self.cursor().execute(sql, parameters)

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> InlineCursor:
        return await self.cursor().executemany(sql, parameters)

    async def commit(self) -> None:
        try:
            self._conn.commit()
        except sqlite3.OperationalError as exc:
            if not _busy(exc):
                raise
            _blocking_retry(self._conn, self._conn.commit)
        _released(self._conn)

    async def rollback(self) -> None:
        self._conn.rollback()
        _released(self._conn)

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        if self._connection is not None:
            self._connection = None
            _released(self._conn)
            self._conn.close()


def creator(path: str, *, timeout: float = 0.0) -> Callable[[], Any]:
    """An ``async_creator`` for :func:`sqlalchemy.ext.asyncio.create_async_engine`."""

    async def connect() -> InlineConnection:
        # Only the event loop's thread uses the connection; the pool may close it elsewhere.
        connection = sqlite3.connect(
            path, timeout=timeout, isolation_level="DEFERRED", check_same_thread=False
        )
        return InlineConnection(connection)

    return connect
