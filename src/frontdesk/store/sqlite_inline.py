"""SQLite without a thread hop: the standard ``sqlite3`` module behind aiosqlite's interface.

SQLAlchemy's async SQLite dialect talks to aiosqlite, which runs every call (cursor, execute,
fetch, close, commit) on a helper thread and hands the result back through the event loop.
Each hand-off costs a thread wake-up; an authorization-code flow makes about twenty such
calls, so a request spends more time waiting for hand-offs than working. SQLite queries on
indexed rows take microseconds, so this module runs them directly on the event loop's thread
instead, behind the same awaitable interface (SQLAlchemy's ``async_creator`` hook).

What this trades: a statement blocks the event loop while it runs. Reads and short writes
take microseconds; a write that must wait for another *process*'s write lock waits in
SQLite's busy handler (``busy_timeout``). Within a process, writers already queue on an
asyncio lock (:mod:`frontdesk.store.sqlite_writes`), and each transaction finishes without
yielding, so such waits stay short. ``FRONTDESK_SQLITE_THREAD=true`` switches back to
aiosqlite's thread.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any


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
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> InlineCursor:
        self._cursor.executemany(sql, parameters)
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
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    async def close(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()

    def stop(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()


def creator(path: str, *, timeout: float = 10.0) -> Callable[[], Any]:
    """An ``async_creator`` for :func:`sqlalchemy.ext.asyncio.create_async_engine`."""

    async def connect() -> InlineConnection:
        # Only the event loop's thread uses the connection; the pool may close it elsewhere.
        connection = sqlite3.connect(
            path, timeout=timeout, isolation_level="DEFERRED", check_same_thread=False
        )
        return InlineConnection(connection)

    return connect
