"""One write transaction at a time per process on SQLite.

SQLite allows one writer. Two connections of the same process that both start writing make
the second one wait in SQLite's busy handler, which *sleeps* (1, 2, 5, 10 … ms) and, with the
statements run on the event loop's thread (:mod:`frontdesk.store.sqlite_inline`), would block
every other request meanwhile. Queueing writers on an asyncio lock instead wakes the next
writer the moment the previous one commits. Reads never take the lock. Other processes
(workers) still meet SQLite's own lock, for short waits only, since each process writes one
transaction at a time; the writer that holds this lock waits for theirs by awaiting, not in the
busy handler (``begin_immediate`` in :mod:`frontdesk.store.sqlite_inline`).

The lock is taken before the first write of a transaction and released when the transaction
ends; a writer that cannot get it within a few seconds proceeds anyway and leaves the waiting
to SQLite, so a mistake can never deadlock. It is installed on one database's session class.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction
from sqlalchemy.util import await_only

HELD = "sqlite_write_lock_held"
WAIT_SECONDS = 3.0


class WriteLock:
    def __init__(self) -> None:
        self._lock: asyncio.Lock | None = None

    @property
    def lock(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    def install(self, session_class: type[Session]) -> None:
        event.listen(session_class, "do_orm_execute", self._before_statement)
        event.listen(session_class, "before_flush", self._before_flush)
        event.listen(session_class, "after_transaction_end", self._after_transaction)

    def acquire(self, session: Session) -> None:
        if session.info.get(HELD):
            return
        try:
            await_only(asyncio.wait_for(self.lock.acquire(), WAIT_SECONDS))
        except TimeoutError:
            return  # let SQLite's busy timeout do the waiting
        except Exception:  # not inside an async session (no greenlet): nothing to coordinate
            return
        session.info[HELD] = True

    def _before_statement(self, state: ORMExecuteState) -> None:
        if state.is_insert or state.is_update or state.is_delete:
            self.acquire(state.session)

    def _before_flush(self, session: Session, _context: Any, _instances: Any) -> None:
        if session.new or session.dirty or session.deleted:
            self.acquire(session)

    def _after_transaction(self, session: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is None and session.info.pop(HELD, False):
            self.lock.release()
