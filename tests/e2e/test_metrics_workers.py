"""Metrics across worker processes (docs/metrics.md): a real ``frontdesk serve --workers 2``,
requests spread over both workers, and ``/metrics`` (and the internal metrics address) adding
up every worker's values; a worker killed with ``kill -9`` stops counting in the live gauges
while what it counted stays in the totals."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import FRONTDESK, free_port, server_env, start, wait_ready
from tests.e2e.test_multiworker import seed, status
from tests.support import stop_process

pytestmark = pytest.mark.e2e

POOL_SIZE = 3


def value(text: str, name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(
        s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
        if s.name == name and wanted <= set(s.labels.items())
    )


def scrape(port: int) -> str:
    with httpx.Client(timeout=5) as c:
        response = c.get(f"http://127.0.0.1:{port}/metrics", headers={"host": f"localhost:{port}"})
    assert response.status_code == 200, response.text
    return response.text


def internal(port: int) -> str:
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert response.status_code == 200
    return response.text


def worker_pids(directory: Path) -> set[int]:
    """Processes that wrote request timings (prometheus-client names files ``<kind>_<pid>.db``)."""
    return {
        int(m.group(1)) for p in directory.iterdir() if (m := re.fullmatch(r"histogram_(\d+)\.db", p.name))
    }


def live_pids(directory: Path) -> set[int]:
    return {
        int(m.group(1))
        for p in directory.iterdir()
        if (m := re.fullmatch(r"gauge_live\w+_(\d+)\.db", p.name))
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def two_workers(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[int, int, Path, dict[str, str]]]:
    extra: dict[str, str] = {}
    if request.param == "postgresql":
        url = os.environ.get("FRONTDESK_TEST_DATABASE_URL")
        if not url:
            pytest.skip("set FRONTDESK_TEST_DATABASE_URL for the PostgreSQL case")
        extra["FRONTDESK_DATABASE_URL"] = url
    port, metrics_port = free_port(), free_port()
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_4242424.db").write_bytes(b"left over from an earlier run")
    env = server_env(
        tmp_path,
        port,
        PROMETHEUS_MULTIPROC_DIR=str(directory),
        FRONTDESK_METRICS_ADDRESS=f"127.0.0.1:{metrics_port}",
        FRONTDESK_DB_POOL_SIZE=str(POOL_SIZE),
        **extra,
    )
    subprocess.run([FRONTDESK, "db", "upgrade"], env=env, cwd=tmp_path, check=True, capture_output=True)
    proc = start(tmp_path, port, env, "--workers", "2")
    try:
        wait_ready(port, proc)
        yield port, metrics_port, directory, env
    finally:
        stop_process(proc, tmp_path / "server.log")


def cli_env(env: dict[str, str]) -> dict[str, str]:
    """The CLI's environment without the servers' metrics directory (a command run with it
    would add its own files there)."""
    return {k: v for k, v in env.items() if k != "PROMETHEUS_MULTIPROC_DIR"}


def test_metrics_add_up_every_worker(
    two_workers: tuple[int, int, Path, dict[str, str]], tmp_path: Path
) -> None:
    port, metrics_port, directory, env = two_workers
    assert not (directory / "counter_4242424.db").exists()  # cleaned at start
    token = seed(cli_env(env), tmp_path)
    user = {"route": "/api/user", "method": "GET", "status": "200"}
    before = value(scrape(port), "frontdesk_http_request_duration_seconds_count", **user)
    for _ in range(60):  # a new connection each: the kernel spreads them over the workers
        assert status(port, token) == 200
    assert len(worker_pids(directory)) == 2

    # The worker that answers adds its own tallies at once, the other one's within its
    # sampling interval (web/metrics.py SAMPLE_SECONDS).
    deadline = time.monotonic() + 15
    text = scrape(port)
    while value(text, "frontdesk_http_request_duration_seconds_count", **user) < before + 60:
        assert time.monotonic() < deadline, value(
            text, "frontdesk_http_request_duration_seconds_count", **user
        )
        time.sleep(0.5)
        text = scrape(port)
    assert value(text, "frontdesk_http_request_duration_seconds_count", **user) == before + 60
    assert token not in text
    # The live gauges: both workers' pools, summed.
    assert value(text, "frontdesk_db_pool_size") == 2 * POOL_SIZE
    # The internal address serves the same sums, without the main host's guard.
    assert (
        value(internal(metrics_port), "frontdesk_http_request_duration_seconds_count", **user) == before + 60
    )

    # A revocation in one worker reaches the other's caches: the lag it took is measured.
    lag = "frontdesk_cache_invalidation_lag_seconds_count"
    heard = value(text, lag)
    with httpx.Client(timeout=5) as c:
        revoked = c.delete(
            f"http://127.0.0.1:{port}/api/access_tokens/{token}", headers={"host": f"localhost:{port}"}
        )
    assert revoked.status_code == 204
    deadline = time.monotonic() + 5
    while value(scrape(port), lag) <= heard and time.monotonic() < deadline:
        time.sleep(0.1)
    assert value(scrape(port), lag) > heard


def test_a_killed_worker_leaves_the_live_gauges(
    two_workers: tuple[int, int, Path, dict[str, str]], tmp_path: Path
) -> None:
    port, _metrics_port, directory, env = two_workers
    token = seed(cli_env(env), tmp_path)
    user = {"route": "/api/user", "method": "GET", "status": "200"}
    for _ in range(40):
        assert status(port, token) == 200
    pids = worker_pids(directory)
    assert len(pids) == 2
    # Both workers have written their tallies (within a sampling interval); what a worker
    # killed with -9 had not written yet is lost, at most SAMPLE_SECONDS of its counts.
    deadline = time.monotonic() + 15
    while value(scrape(port), "frontdesk_http_request_duration_seconds_count", **user) < 40:
        assert time.monotonic() < deadline
        time.sleep(0.5)
    killed = min(pids)
    os.kill(killed, signal.SIGKILL)
    deadline = time.monotonic() + 30
    text = ""
    while time.monotonic() < deadline:
        # The supervisor starts a new worker; a worker's sampler reaps the dead one's gauges.
        try:
            text = scrape(port)
        except (httpx.TransportError, AssertionError):
            time.sleep(0.2)
            continue
        live = live_pids(directory)
        if killed not in live and live - pids and value(text, "frontdesk_db_pool_size") == 2 * POOL_SIZE:
            break
        time.sleep(0.2)
    live = live_pids(directory)
    assert killed not in live and len(live) == 2, live
    # Without the dead worker's gauges: the new worker's pool and the survivor's.
    assert value(text, "frontdesk_db_pool_size") == 2 * POOL_SIZE
    # What the dead worker counted is still in the total.
    assert value(text, "frontdesk_http_request_duration_seconds_count", **user) == 40
