"""Deferred inserts: rows that are written once and never read back by the writer (codes,
tokens, audit events) wait in the unit of work and go out together, right before the next
statement of the session or at commit.

A code flow's token request stages a token and an audit event after consuming the code; sent
with the commit, they cost one trip into the database layer instead of three. Nothing can
observe the difference: any other statement of the same session (a query, an update, an ORM
flush) sends them first, in order, so the session reads its own writes as always.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from sqlalchemy import Insert, event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session

PENDING: Final = "frontdesk_deferred_inserts"


def defer_insert(db: AsyncSession, statement: Insert, params: dict[str, Any]) -> None:
    """Stage one row: sent before the session's next statement, or at commit; dropped by a
    rollback."""
    if not db.in_transaction():
        # Begin the session's transaction (no connection yet) so that a rollback, which only
        # ends a transaction, drops the staged rows too.
        db.sync_session.begin()
    db.info.setdefault(PENDING, []).append((statement, params))


class DeferredInserts:
    """Installed on a database's own session class. ``before_write(session, tables)`` runs
    before the rows are sent (the write queue and the caching layer's write tracking)."""

    def __init__(self, before_write: Callable[[Session, set[str]], None]) -> None:
        self.before_write = before_write

    def install(self, session_class: type[Session]) -> None:
        event.listen(session_class, "do_orm_execute", self._before_statement)
        event.listen(session_class, "before_flush", self._before_flush)
        event.listen(session_class, "before_commit", self.send)
        event.listen(session_class, "after_soft_rollback", self._discard)

    def send(self, session: Session) -> None:
        pending: list[tuple[Insert, dict[str, Any]]] | None = session.info.pop(PENDING, None)
        if not pending:
            return
        self.before_write(session, {statement.table.name for statement, _ in pending})
        conn = session.connection()
        for statement, params in pending:
            conn.execute(statement, params)

    def _before_statement(self, state: ORMExecuteState) -> None:
        if PENDING in state.session.info:
            self.send(state.session)

    def _before_flush(self, session: Session, _context: Any, _instances: Any) -> None:
        if PENDING in session.info:
            self.send(session)

    @staticmethod
    def _discard(session: Session, _previous: Any) -> None:
        session.info.pop(PENDING, None)
