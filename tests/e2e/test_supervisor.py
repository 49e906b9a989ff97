"""`frontdesk serve --workers 2`: the supervising process imports the application's modules but
builds no application and opens no database (web/supervisor.py); it forks the workers, which
share its pages, and starts, restarts and stops them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import FRONTDESK, free_port, server_env, start, wait_ready
from tests.support import csrf_from, stop_process
from tests.support import worker_pids as workers


def open_files(pid: int) -> set[str]:
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            found.add(os.readlink(fd))
        except OSError:  # closed meanwhile
            continue
    return found


def memory(pid: int) -> dict[str, int]:
    """KiB by name from /proc/<pid>/smaps_rollup (Rss, Pss, ...)."""
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        values[name] = int(rest.split()[0])
    return values


def wait_for(condition: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc")
    port = free_port()
    env = server_env(tmp_path, port)
    subprocess.run([FRONTDESK, "db", "upgrade"], env=env, cwd=tmp_path, check=True, capture_output=True)
    proc = start(tmp_path, port, env, "--workers", "2")
    try:
        wait_ready(port, proc, timeout=60)
        wait_for(lambda: len(workers(proc.pid)) == 2)
        yield proc, port
    finally:
        stop_process(proc, tmp_path / "server.log")


def test_workers_are_forked_from_a_supervisor_without_a_database(
    served: tuple[subprocess.Popen[bytes], int], tmp_path: Path
) -> None:
    proc, port = served
    # `frontdesk serve` became the supervisor in place (exec): the same process id.
    cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
    assert b"frontdesk.web.supervisor" in cmdline
    database = str(tmp_path / "e2e.db")
    # Each worker reads the database (readiness runs a query on whichever serves it) ...
    for _ in range(20):
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
    assert any(database in open_files(worker) for worker in workers(proc.pid))
    # ... the supervisor, which only imported the modules, has never opened it.
    assert database not in open_files(proc.pid)
    # Forked from it, the workers share the imported pages with it and each other: a process's
    # proportional share (PSS) is well below what it maps (RSS). Spawned fresh interpreters,
    # as uvicorn's default makes them, shared little (105.9 of 130.7 MiB, docs/performance.md).
    for worker in workers(proc.pid):
        used = memory(worker)
        assert used["Pss"] < 0.7 * used["Rss"], used


def test_a_killed_worker_is_replaced_and_sigterm_stops_all(
    served: tuple[subprocess.Popen[bytes], int],
) -> None:
    proc, port = served
    before = workers(proc.pid)
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: len(workers(proc.pid)) == 2 and victim not in workers(proc.pid))
    after = workers(proc.pid)
    assert victim not in after
    wait_ready(port, proc, timeout=60)
    assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0
    for worker in after:
        assert (
            not Path(f"/proc/{worker}").exists() or b"zombie" in Path(f"/proc/{worker}/status").read_bytes()
        )


def test_the_server_gives_back_password_hashing_memory_once_idle(tmp_path: Path) -> None:
    """Every Argon2id check allocates FRONTDESK_ARGON2_MEMORY_KIB; glibc kept those blocks in
    the hashing threads' arenas for good (frontdesk/heap.py). The server now allocates them
    from the one heap and gives them back once hashing has been idle for a second."""
    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc")
    # Under glibc's 32 MiB ceiling for blocks that always get their own mapping; one hashing
    # thread, so no two freed blocks together pass the heap's own trim threshold.
    block_kib = 24 * 1024
    port = free_port()
    env = server_env(
        tmp_path,
        port,
        FRONTDESK_ARGON2_MEMORY_KIB=str(block_kib),
        FRONTDESK_HASH_CONCURRENCY="1",
        FRONTDESK_LOGIN_FAILURES_PER_ADDRESS="1000/minute",
        FRONTDESK_LOGIN_FAILURES_PER_ACCOUNT="1000/minute",
        FRONTDESK_LOGIN_FAILURES_PER_ACCOUNT_ADDRESS="1000/minute",
    )
    env.pop("MALLOC_ARENA_MAX", None)
    subprocess.run([FRONTDESK, "db", "upgrade"], env=env, cwd=tmp_path, check=True, capture_output=True)
    proc = start(tmp_path, port, env)  # one process: it serves (and hashes) itself
    try:
        wait_ready(port, proc, timeout=60)
        idle = memory(proc.pid)["Rss"]

        def attempt(n: int) -> int:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                page = client.get("/login")
                data = {"email": f"nobody{n}@example.com", "password": "not the password"}
                return client.post("/login", data={**data, "csrf_token": csrf_from(page.text)}).status_code

        # Unknown accounts cost the same hash as known ones (security/passwords.py).
        with ThreadPoolExecutor(4) as pool:
            assert list(pool.map(attempt, range(8))) == [401] * 8
        hashing = memory(proc.pid)["Rss"]
        assert hashing > idle + block_kib // 2, (idle, hashing)  # the blocks were in memory ...
        # ... and are given back within a few seconds of the last check.
        wait_for(lambda: memory(proc.pid)["Rss"] < hashing - block_kib // 2, timeout=10)
    finally:
        stop_process(proc, tmp_path / "server.log")
