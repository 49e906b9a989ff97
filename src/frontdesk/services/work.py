"""The unit of work and the storage, as the layers above the store see them.

A request (or a command) runs in one unit of work: a database session for the services, and
a storage for everything else (the protocol core's :class:`frontdesk.oauth.storage.Storage`
plus the browser sessions, memberships, spaces and signing keys the pages and the API read).
The store implements both (:class:`frontdesk.store.unit_of_work.UnitOfWork`,
:class:`frontdesk.store.caching.CachingStorage`); ``web/`` depends on these protocols only.
"""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.oauth.storage import PushedRequestStore, Storage
from frontdesk.records import MembershipRecord, NewSession, SessionRecord, SpaceRef
from frontdesk.store.key_storage import LoadedKeys


class AppStorage(Storage, PushedRequestStore, Protocol):
    async def signing_keys(self) -> LoadedKeys:
        """Every signing key and the one that signs now."""
        ...

    async def space_by_host(self, by: str, value: str) -> SpaceRef | None:
        """The space a host names: ``by`` is ``"subdomain"`` or ``"domain"``."""
        ...

    async def memberships_of(self, user_id: str) -> tuple[MembershipRecord, ...]: ...

    async def find_session(self, session_id: str) -> SessionRecord | None: ...

    async def start_session(self, new: NewSession) -> None: ...

    async def touch_session(self, session_id: str, now: datetime) -> None: ...

    async def end_session(self, session_id: str) -> None: ...

    async def end_sessions_of(self, user_id: str) -> int: ...

    async def update_session(
        self,
        session_id: str,
        *,
        data: dict[str, Any] | None = None,
        reauthenticated_at: datetime | None = None,
        login_methods: tuple[str, ...] | None = None,
        authenticated_at: datetime | None = None,
    ) -> None: ...


class UnitOfWork(Protocol):
    @property
    def session(self) -> AsyncSession:
        """The database session, for the services."""
        ...

    @property
    def storage(self) -> AppStorage: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...

    async def close(self) -> None: ...

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
