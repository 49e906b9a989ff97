"""One write transaction at a time per process on SQLite.

SQLite allows one writer. Two connections of the same process that both start writing make
the second one wait in SQLite's busy handler, which *sleeps* (1, 2, 5, 10 … ms) and turns a
sub-millisecond wait into hundreds of milliseconds under load. Queueing writers on an
asyncio lock instead wakes the next writer the moment the previous one commits. Reads never
take the lock. Other processes (workers) still meet SQLite's own lock, for short waits only,
since each process writes one transaction at a time.

The lock is taken from SQLAlchemy session events (before the first write of a transaction)
and released when the transaction ends; a writer that cannot get it within a few seconds
proceeds anyway and leaves the waiting to SQLite, so a mistake can never deadlock.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction
from sqlalchemy.util import await_only

KEY = "sqlite_write_lock"
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


def _acquire(session: Session) -> None:
    holder: WriteLock | None = session.info.get(KEY)
    if holder is None or session.info.get(HELD):
        return
    try:
        await_only(asyncio.wait_for(holder.lock.acquire(), WAIT_SECONDS))
    except TimeoutError:
        return  # let SQLite's busy timeout do the waiting
    except Exception:  # not inside an async session (no greenlet): nothing to coordinate
        return
    session.info[HELD] = True


@event.listens_for(Session, "do_orm_execute")
def _before_statement(state: ORMExecuteState) -> None:
    if KEY in state.session.info and (state.is_insert or state.is_update or state.is_delete):
        _acquire(state.session)


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    if KEY in session.info and (session.new or session.dirty or session.deleted):
        _acquire(session)


@event.listens_for(Session, "after_transaction_end")
def _after_transaction(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None and session.info.pop(HELD, False):
        holder: WriteLock = session.info[KEY]
        holder.lock.release()
