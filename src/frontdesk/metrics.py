"""Prometheus metrics (docs/metrics.md): every metric Frontdesk exports, named ``frontdesk_…``.

The web, services and store layers count here; the protocol core (``oauth/``) never imports
this module (``tests/test_architecture.py``). Labels hold only bounded values: route
templates (``/api/access_tokens/{token}/space``, never a path with a token in it), grant
types, rule names, RFC error codes, cache kinds.

**Several workers.** ``frontdesk serve --workers N`` sets ``PROMETHEUS_MULTIPROC_DIR`` (a fresh
directory, see :mod:`frontdesk.metrics_setup`) before the workers start, so every worker
writes its values to files there and the one that answers ``/metrics`` adds them all up
(prometheus-client's multiprocess mode). prometheus-client picks its mode when it is first
imported, so nothing may import this module in the supervisor before the directory is set.
With one process and no directory the plain registry is used.

**The hot path.** A request costs one histogram observation (its ``_count`` is the request
counter), tallied in plain numbers (:class:`Timings`); cache lookups, many per request, are
counted in plain integers by ``store/caching.Caches``. Both reach prometheus-client every few
seconds and before each scrape (web/metrics.py's sampler), so another worker's last seconds
may show up one sampling interval late.
"""

from __future__ import annotations

import bisect
import contextlib
import glob
import os
from collections.abc import Mapping
from typing import Any, Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from frontdesk.metrics_setup import MULTIPROC_ENV

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST

# Request latency: from a few milliseconds (bearer checks) to password hashing and slow pages.
LATENCY_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUEST_SECONDS: Final = Histogram(
    "frontdesk_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template, method and status (its _count counts requests).",
    ("route", "method", "status"),
    buckets=LATENCY_BUCKETS,
)
TOKENS_ISSUED: Final = Counter(
    "frontdesk_tokens_issued",
    "Access tokens issued, by grant type and the kind of host that issued them (main or space).",
    ("grant_type", "host"),
)
AUTHORIZATIONS: Final = Counter(
    "frontdesk_authorizations",
    "Authorization requests answered with a redirect to the app or an error page: outcome "
    "approved, denied (access_denied) or error, with the RFC 6749 error code.",
    ("outcome", "error"),
)
THROTTLED: Final = Counter(
    "frontdesk_throttled_requests",
    "Requests refused by a rate limit or failure throttle, by rule name.",
    ("rule",),
)
PASSWORD_QUEUE: Final = Gauge(
    "frontdesk_password_hash_queue_depth",
    "Password hashes (Argon2id) running or waiting for the bounded pool, summed over live workers.",
    multiprocess_mode="livesum",
)
PASSWORD_SECONDS: Final = Histogram(
    "frontdesk_password_hash_seconds",
    "Time one password hash or verification takes in the hashing pool (not counting the wait).",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2),
)
PASSWORD_REFUSED: Final = Counter(
    "frontdesk_password_hash_refused",
    "Password checks refused because the hashing queue was full (HashingBusy).",
)
CACHE_LOOKUPS: Final = Counter(
    "frontdesk_cache_lookups",
    "Reads of the per-worker caches, by cache kind and result (hit or miss).",
    ("kind", "result"),
)
INVALIDATION_LAG: Final = Histogram(
    "frontdesk_cache_invalidation_lag_seconds",
    "Time from a write's invalidation message to its application in another process, by channel.",
    ("channel",),
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
OUTBOX_PENDING: Final = Gauge(
    "frontdesk_outbox_pending",
    "Messages waiting in an outbox (webhooks, email), counted when /metrics is read.",
    ("outbox",),
    multiprocess_mode="mostrecent",
)
OUTBOX_DELIVERIES: Final = Counter(
    "frontdesk_outbox_deliveries",
    "Delivery attempts of the outboxes, by outbox and outcome (delivered, failed, given_up).",
    ("outbox", "outcome"),
)
DB_POOL_CHECKED_OUT: Final = Gauge(
    "frontdesk_db_pool_checked_out",
    "Database connections in use, summed over live workers.",
    multiprocess_mode="livesum",
)
DB_POOL_SIZE: Final = Gauge(
    "frontdesk_db_pool_size",
    "Database connections the pools keep (without overflow), summed over live workers.",
    multiprocess_mode="livesum",
)

# Every metric name (as exposed, without _bucket/_count/_sum suffixes): the dashboard's
# expressions use only these (tests/test_metrics.py).
NAMES: Final = (
    "frontdesk_http_request_duration_seconds",
    "frontdesk_tokens_issued_total",
    "frontdesk_authorizations_total",
    "frontdesk_throttled_requests_total",
    "frontdesk_password_hash_queue_depth",
    "frontdesk_password_hash_seconds",
    "frontdesk_password_hash_refused_total",
    "frontdesk_cache_lookups_total",
    "frontdesk_cache_invalidation_lag_seconds",
    "frontdesk_outbox_pending",
    "frontdesk_outbox_deliveries_total",
    "frontdesk_db_pool_checked_out",
    "frontdesk_db_pool_size",
)

# Grant types counted by name; anything else (an extension a client made up) is "other".
GRANT_TYPES: Final = frozenset(
    {
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "password",
        "urn:ietf:params:oauth:grant-type:device_code",
        "urn:ietf:params:oauth:grant-type:token-exchange",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "space_token",
    }
)


class Timings:
    """Observations of one histogram kept in plain numbers until :meth:`flush` adds them to
    it: the request path's cost is a bisection and two additions, not a locked write to the
    multiprocess files per request (measured in docs/metrics.md). Flushed by each worker's
    sampler every few seconds and by the worker that answers ``/metrics`` before it reads."""

    def __init__(self, histogram: Histogram, buckets: tuple[float, ...]) -> None:
        self.histogram = histogram
        self.bounds = (*buckets, float("inf"))
        self._tallies: dict[tuple[str, ...], list[float]] = {}

    def observe(self, labels: tuple[str, ...], seconds: float) -> None:
        tally = self._tallies.get(labels)
        if tally is None:
            tally = self._tallies[labels] = [0.0] * (len(self.bounds) + 1)
        # The first bound at or above the value, as Histogram.observe picks its bucket.
        tally[bisect.bisect_left(self.bounds, seconds)] += 1
        tally[-1] += seconds

    def flush(self) -> None:
        tallies, self._tallies = self._tallies, {}
        for labels, tally in tallies.items():
            child = self.histogram.labels(*labels)
            # prometheus-client keeps a histogram as one value per bucket (not cumulative)
            # and a sum; tests/web/test_metrics.py checks this matches Histogram.observe.
            for bucket, n in zip(child._buckets, tally[:-1], strict=True):
                if n:
                    bucket.inc(n)
            child._sum.inc(tally[-1])


REQUEST_TIMES: Final = Timings(REQUEST_SECONDS, LATENCY_BUCKETS)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def token_issued(grant_type: str, *, main_host: bool) -> None:
    TOKENS_ISSUED.labels(
        grant_type if grant_type in GRANT_TYPES else "other", "main" if main_host else "space"
    ).inc()


def authorization(outcome: str, error: str = "") -> None:
    AUTHORIZATIONS.labels(outcome, error).inc()


def throttled(rule: str) -> None:
    THROTTLED.labels(rule).inc()


def delivery(outbox: str, outcome: str) -> None:
    OUTBOX_DELIVERIES.labels(outbox, outcome).inc()


def invalidation_lag(channel: str, seconds: float) -> None:
    INVALIDATION_LAG.labels(channel).observe(max(0.0, seconds))


def flush_cache_lookups(hits: Mapping[str, int], misses: Mapping[str, int]) -> None:
    """Add a worker's tallies (taken from ``store/caching.Caches``) to the counter."""
    for kind, n in hits.items():
        if n:
            CACHE_LOOKUPS.labels(kind, "hit").inc(n)
    for kind, n in misses.items():
        if n:
            CACHE_LOOKUPS.labels(kind, "miss").inc(n)


def pool_usage(pool: Any) -> None:
    """The worker's database pool now (a SQLAlchemy pool: ``checkedout()`` and ``size()``)."""
    with contextlib.suppress(Exception):  # a pool without these (NullPool in a test) has no usage
        DB_POOL_CHECKED_OUT.set(pool.checkedout())
        DB_POOL_SIZE.set(pool.size())


def outbox_pending(counts: Mapping[str, int]) -> None:
    for outbox, n in counts.items():
        OUTBOX_PENDING.labels(outbox).set(n)


def reap_dead_workers() -> None:
    """Drop the live gauges of workers that died without saying so (``kill -9``): their
    ``livesum`` values must not count any more. Counters and histograms keep their files, so
    what a dead worker counted stays in the totals."""
    directory = multiprocess_dir()
    if directory is None:
        return
    pids: set[int] = set()
    for path in glob.glob(os.path.join(directory, "gauge_live*_*.db")):
        with contextlib.suppress(ValueError):
            pids.add(int(os.path.basename(path).rsplit("_", 1)[1][:-3]))
    for pid in pids:
        if pid != os.getpid() and not _alive(pid):
            multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]


def worker_stopped() -> None:
    """A worker's clean exit: its live gauges stop counting."""
    directory = multiprocess_dir()
    if directory is not None:
        multiprocess.mark_process_dead(os.getpid(), directory)  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def registry() -> CollectorRegistry:
    """What ``/metrics`` exposes: every worker's values in multiprocess mode, else this
    process's registry."""
    if multiprocess_dir() is None:
        return REGISTRY
    collected = CollectorRegistry()
    multiprocess.MultiProcessCollector(collected)  # type: ignore[no-untyped-call]
    return collected


def exposition() -> bytes:
    return generate_latest(registry())
