"""The unit of work: one request's (or one command's) transaction.

Whoever runs a request owns its unit of work and is the only one who commits: the web adapter
(:mod:`frontdesk.web.adapter`) for every HTTP request, the CLI runner for every command, the
store's own background jobs. The protocol core, the services and the storages only stage
writes in it. The rule for HTTP requests: commit when the handler returns, roll back when it
raises, except for an OAuth error raised with ``persist=True`` (a code burned by a failed
redemption, tokens revoked for a replay, the audit event of a failure), which is committed
before the error is answered.

Nothing is opened until it is needed: a request served from the caches never checks out a
database connection.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.store.caching import CachingStorage

if TYPE_CHECKING:
    from frontdesk.store.db import Database


class UnitOfWork:
    __slots__ = ("_session", "_storage", "database")

    def __init__(self, database: Database) -> None:
        self.database = database
        self._session: AsyncSession | None = None
        self._storage: CachingStorage | None = None

    @property
    def session(self) -> AsyncSession:
        """The database session (for services); opened on first use."""
        if self._session is None:
            self._session = self.database.sessionmaker()
        return self._session

    @property
    def has_session(self) -> bool:
        return self._session is not None

    @property
    def storage(self) -> CachingStorage:
        """The storage the protocol core, the pages and the API read and write through."""
        if self._storage is None:
            self._storage = CachingStorage(self, self.database.caches)
        return self._storage

    async def commit(self) -> None:
        if self._session is not None:
            await self._session.commit()

    async def rollback(self) -> None:
        if self._session is not None:
            await self._session.rollback()

    async def close(self) -> None:
        """End the unit of work; whatever was not committed is rolled back."""
        if self._session is not None:
            session, self._session = self._session, None
            self._storage = None
            await session.close()

    async def __aenter__(self) -> UnitOfWork:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
