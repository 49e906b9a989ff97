"""``/metrics`` on the main host and the request timing behind it (docs/metrics.md).

:class:`MetricsMiddleware` runs inside host resolution (``web/hosts.py``): it answers
``/metrics`` itself on the main host (open in development; in production only to
``Authorization: Bearer <FRONTDESK_METRICS_TOKEN>``, 401 otherwise) and times every other
request into one histogram labelled with the *route template* that answered it (Starlette's
matched route, or the fast lane's exact path), never the raw path.

:class:`Sampler` is each worker's task that writes what is not counted as it happens: the
cache lookups tallied by ``store/caching.Caches``, the database pool's usage, and which
workers are gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from typing import Any

from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from frontdesk import metrics
from frontdesk.services.metrics_samples import pending_counts, sample_worker
from frontdesk.settings import Settings
from frontdesk.tasks import stop_task
from frontdesk.web.routing import raw_route_paths

log = logging.getLogger("frontdesk.metrics")

PATH = "/metrics"
SAMPLE_SECONDS = 5.0
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # no route answered: unknown paths, refusals before routing
_STATUS = {code: str(code) for code in range(100, 600)}


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, *, settings: Settings, state: Any, routes: list[BaseRoute]) -> None:
        self.app = app
        self.state = state
        self.raw_paths = frozenset(raw_route_paths(routes))
        token = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
        # Development: open. Production: the token, or nobody when none is configured.
        self.open = settings.env == "development"
        self.expected = f"Bearer {token}".encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == PATH and scope["state"]["site"].is_main:
            await self.serve(scope, send)
            return
        status = 500  # a handler that raised without answering
        started = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.observe(scope, status, time.perf_counter() - started)

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        method = scope["method"]
        labels = (
            self.template(scope.get("route"), scope["path"]),
            method if method in METHODS else "other",
            _STATUS.get(status) or str(status),
        )
        metrics.REQUEST_TIMES.observe(labels, seconds)

    def template(self, route: Any, path: str) -> str:
        if route is None:
            # The fast lane (web/routing.FastLane) answers exact paths without the router.
            return path if path in self.raw_paths else UNMATCHED
        if isinstance(route, Mount):
            return route.path + "/{path}"
        return str(getattr(route, "path", UNMATCHED))

    def allowed(self, scope: Scope) -> bool:
        if self.open:
            return True
        if self.expected is None:
            return False
        given = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                given = value
                break
        return hmac.compare_digest(given, self.expected)

    async def serve(self, scope: Scope, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            await _answer(send, 405, b"use GET\n", [(b"allow", b"GET, HEAD")])
            return
        if not self.allowed(scope):
            await _answer(
                send,
                401,
                b"metrics need the metrics token\n",
                [(b"www-authenticate", b'Bearer realm="metrics"')],
            )
            return
        await sample(self.state, outboxes=True)
        body = metrics.exposition()
        await _answer(
            send,
            200,
            b"" if scope["method"] == "HEAD" else body,
            [(b"content-type", metrics.CONTENT_TYPE.encode()), (b"cache-control", b"no-store")],
        )


async def _answer(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    if not any(name == b"content-type" for name, _ in headers):
        headers.append((b"content-type", b"text/plain; charset=utf-8"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def sample(state: Any, *, outboxes: bool = False) -> None:
    """Write this worker's tallies and gauges; with ``outboxes`` also count the outboxes
    (one query each, when /metrics is read)."""
    metrics.REQUEST_TIMES.flush()
    sample_worker(state.db)
    metrics.reap_dead_workers()
    if outboxes:
        try:
            async with state.unit_of_work() as uow:
                metrics.outbox_pending(await pending_counts(uow.session))
        except Exception:  # the database is down: the other metrics still answer
            log.warning("could not count the outboxes for /metrics", exc_info=True)


class Sampler:
    """Each worker's :func:`sample` every few seconds, started and stopped by the lifespan."""

    def __init__(self, state: Any, interval: float = SAMPLE_SECONDS) -> None:
        self.state = state
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="metrics-sampler")

    async def _run(self) -> None:
        while True:
            try:
                await sample(self.state)
            except Exception:
                log.exception("metrics sampling failed")
            await asyncio.sleep(self.interval)

    async def stop(self) -> None:
        if self._task is not None:
            await stop_task(self._task)
            self._task = None
        with contextlib.suppress(Exception):
            await sample(self.state)
        metrics.worker_stopped()
