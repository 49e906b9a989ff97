"""What ``frontdesk serve`` does for metrics before the workers start (docs/metrics.md).

Kept apart from :mod:`frontdesk.metrics`: prometheus-client chooses between its plain and
its multiprocess mode when it is first imported, so the supervisor sets
``PROMETHEUS_MULTIPROC_DIR`` first and imports prometheus-client only to serve
``FRONTDESK_METRICS_ADDRESS``.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import tempfile
import threading
from typing import Final

MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"


def prepare(workers: int) -> str | None:
    """The directory the workers write their values to: ``PROMETHEUS_MULTIPROC_DIR`` when
    set (emptied of the values of an earlier run), else, with more than one worker, a fresh
    private directory removed when the server exits. ``None``: one process, plain registry."""
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        for path in glob.glob(os.path.join(directory, "*.db")):
            os.unlink(path)
        return directory
    if workers <= 1:
        return None
    directory = tempfile.mkdtemp(prefix="frontdesk-metrics-")
    os.environ[MULTIPROC_ENV] = directory
    atexit.register(shutil.rmtree, directory, True)
    return directory


def forget_process(pid: int) -> None:
    """Remove the value files of process ``pid``. The supervisor imports the metrics with the
    application's modules before it forks the workers (web/supervisor.py, ``preload``), and
    prometheus-client creates a file for each value it defines; the supervisor counts nothing,
    and each worker, on its first count, writes its own files under its own process id."""
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        for path in glob.glob(os.path.join(directory, f"*_{pid}.db")):
            os.unlink(path)


def parse_address(address: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:9100`` for IPv6) → (host, port)."""
    host, sep, port = address.strip().rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"FRONTDESK_METRICS_ADDRESS must be host:port, not {address!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def serve_internal(address: str) -> threading.Thread:
    """Serve every worker's metrics at ``address`` from a thread of this process (the
    supervisor, or the only worker). No token there: bind it to an internal address."""
    from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server

    host, port = parse_address(address)
    directory = os.environ.get(MULTIPROC_ENV)
    registry = REGISTRY
    if directory:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, directory)  # type: ignore[no-untyped-call]
    _server, thread = start_http_server(port, addr=host, registry=registry)
    return thread
