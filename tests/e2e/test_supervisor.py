"""`frontdesk serve --workers 2`: the supervising process never imports the application
(web/supervisor.py), yet starts, restarts and stops the workers that do."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import FRONTDESK, free_port, server_env, start, wait_ready
from tests.support import stop_process

# Shared libraries only the application loads (FastAPI's pydantic, SQLAlchemy's compiled
# parts): a process that imported the application has them in its memory map.
APP_LIBRARIES = ("_pydantic_core", "sqlalchemy")


def children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.update(int(child) for child in text)
    return found


def workers(pid: int) -> set[int]:
    """The supervisor's worker processes (not multiprocessing's resource tracker)."""
    return {child for child in children(pid) if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()}


def mapped(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


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


def test_the_supervisor_does_not_load_the_application(served: tuple[subprocess.Popen[bytes], int]) -> None:
    proc, _port = served
    # `frontdesk serve` became the supervisor in place (exec): the same process id.
    cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
    assert b"frontdesk.web.supervisor" in cmdline
    supervisor = mapped(proc.pid)
    for library in APP_LIBRARIES:
        assert library not in supervisor
    for worker in workers(proc.pid):
        assert all(library in mapped(worker) for library in APP_LIBRARIES)


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
