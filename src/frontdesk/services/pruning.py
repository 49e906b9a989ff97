"""``frontdesk db prune``: delete what can no longer have any effect (store/pruning.py says
what, table by table; docs/operations.md "Pruning")."""

from __future__ import annotations

from datetime import timedelta

from frontdesk.store import pruning
from frontdesk.store.db import Database
from frontdesk.store.types import utcnow

DEFAULT_KEEP_DAYS = 7
DEFAULT_DELIVERED_DAYS = 30


async def prune(
    database: Database,
    *,
    keep_days: float = DEFAULT_KEEP_DAYS,
    delivered_days: float = DEFAULT_DELIVERED_DAYS,
    audit_days: float | None = None,
    dry_run: bool = False,
) -> dict[str, int]:
    """Rows deleted per table (or, with ``dry_run``, that would be): codes, tokens, sessions,
    links, challenges and requests dead for more than ``keep_days``; delivered webhooks and sent
    emails older than ``delivered_days``; audit events older than ``audit_days`` when given.
    Each batch is its own unit of work, committed as it goes (store/pruning.py)."""
    now = utcnow()
    cutoffs = pruning.Cutoffs(
        now=now,
        dead_before=now - timedelta(days=keep_days),
        delivered_before=now - timedelta(days=delivered_days),
        audit_before=None if audit_days is None else now - timedelta(days=audit_days),
    )
    return await pruning.prune(database, cutoffs, dry_run=dry_run)
