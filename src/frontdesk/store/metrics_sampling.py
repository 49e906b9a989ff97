"""A worker's store-side gauges and tallies for Prometheus (frontdesk/metrics.py,
docs/metrics.md): the caches' lookups and the database pool's usage."""

from __future__ import annotations

from frontdesk import metrics
from frontdesk.store.db import Database


def sample(db: Database) -> None:
    metrics.flush_cache_lookups(*db.caches.take_lookups())
    metrics.pool_usage(db.engine.pool)
