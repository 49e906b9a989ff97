"""A server killed with SIGKILL while deliveries are pending delivers them after it restarts:
a real `frontdesk serve`, a real receiver that checks signatures with ``standardwebhooks``,
on SQLite and PostgreSQL (issue 12 §5, docs/integrating.md "Webhooks")."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import run_async, truncate_postgres
from tests.e2e.conftest import FRONTDESK, free_port, server_env, start, wait_ready
from tests.support import PASSWORD, stop_process
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.e2e


def cli(env: dict[str, str], cwd: Path, *args: str) -> Any:
    out = subprocess.run([FRONTDESK, *args, "--json"], env=env, cwd=cwd, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def wait_for(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/webhooks.db"
    url: str = request.getfixturevalue("postgres_url")
    run_async(lambda: truncate_postgres(url))
    return url


def test_pending_deliveries_survive_sigkill(tmp_path: Path, database: str) -> None:
    port, receiver_port = free_port(), free_port()
    env = server_env(
        tmp_path,
        port,
        FRONTDESK_DATABASE_URL=database,
        FRONTDESK_WEBHOOKS_ALLOW_PRIVATE="true",
        FRONTDESK_WEBHOOKS_RETRY_BASE_SECONDS="0.5",
        FRONTDESK_WEBHOOKS_TIMEOUT_SECONDS="2",
        FRONTDESK_WEBHOOKS_POLL_SECONDS="0.2",
    )
    subprocess.run([FRONTDESK, "db", "upgrade"], env=env, cwd=tmp_path, check=True, capture_output=True)
    endpoint = cli(
        env,
        tmp_path,
        "webhooks",
        "add",
        f"http://127.0.0.1:{receiver_port}/hooks",
        "--event",
        "token.issued",
        "--event",
        "user.created",
    )
    cli(env, tmp_path, "users", "create", "kill@example.com", "--password", PASSWORD)
    app = cli(
        env,
        tmp_path,
        "clients",
        "create",
        "Killer app",
        "--owner",
        "kill@example.com",
        "--redirect-uri",
        "https://app.example/cb",
        "--scope",
        "read_user",
    )
    proc = start(tmp_path, port, env)
    try:
        wait_ready(port, proc)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"host": f"localhost:{port}"}) as web:
            for _ in range(3):
                r = web.post(
                    "/oauth/access_token",
                    data={
                        "grant_type": "password",
                        "username": "kill@example.com",
                        "password": PASSWORD,
                        "client_id": app["client_id"],
                        "client_secret": app["client_secret"],
                        "scope": "read_user",
                    },
                )
                assert r.status_code == 200
        # The receiver is down: every message fails at least once and waits for its retry.

        def all_tried() -> bool:
            log = cli(env, tmp_path, "webhooks", "deliveries")["deliveries"]
            return len(log) == 4 and all(d["attempts"] >= 1 for d in log if d["event"] == "user.created")

        wait_for(all_tried, 20, "the first failed attempts")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    pending = cli(env, tmp_path, "webhooks", "deliveries")["deliveries"]
    assert {d["status"] for d in pending} == {"pending"}
    expected = [d["message_id"] for d in sorted(pending, key=lambda d: d["delivery"])]
    assert pending[-1]["last_error"].startswith("could not connect")

    with Receiver(receiver_port) as receiver:
        receiver.secret = endpoint["secret"]
        proc = start(tmp_path, port, env)
        try:
            wait_ready(port, proc)
            wait_for(lambda: len(receiver.ids) >= 4, 30, "the deliveries after the restart")
        finally:
            stop_process(proc)
    assert receiver.rejected == []
    # Everything, in the order it was written (the outbox's order), each signed and verified.
    assert receiver.ids[:4] == expected
    assert receiver.types()[:4] == ["user.created", "token.issued", "token.issued", "token.issued"]
    log = cli(env, tmp_path, "webhooks", "deliveries")["deliveries"]
    assert {d["status"] for d in log} == {"delivered"}


def test_a_delivery_cut_off_by_sigkill_is_sent_again(tmp_path: Path, database: str) -> None:
    """Killed while the receiver had the request but had not answered: after the restart (and
    the endpoint's lease), the same message (same webhook-id) is sent again: at least once."""
    port = free_port()
    env = server_env(
        tmp_path,
        port,
        FRONTDESK_DATABASE_URL=database,
        FRONTDESK_WEBHOOKS_ALLOW_PRIVATE="true",
        FRONTDESK_WEBHOOKS_TIMEOUT_SECONDS="1",
        FRONTDESK_WEBHOOKS_POLL_SECONDS="0.2",
    )
    subprocess.run([FRONTDESK, "db", "upgrade"], env=env, cwd=tmp_path, check=True, capture_output=True)
    with Receiver() as receiver:
        endpoint = cli(env, tmp_path, "webhooks", "add", receiver.url, "--event", "user.created")
        receiver.secret = endpoint["secret"]
        receiver.hold = threading.Event()
        proc = start(tmp_path, port, env)
        try:
            wait_ready(port, proc)
            cli(env, tmp_path, "users", "create", "cut@example.com", "--password", PASSWORD)
            wait_for(lambda: len(receiver.ids) == 1, 20, "the first delivery to arrive")
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        receiver.hold.set()
        receiver.hold = None
        [cut] = cli(env, tmp_path, "webhooks", "deliveries")["deliveries"]
        assert (cut["status"], cut["attempts"]) == ("pending", 0)
        proc = start(tmp_path, port, env)
        try:
            wait_ready(port, proc)
            wait_for(lambda: len(receiver.ids) == 2, 40, "the delivery to be sent again")
        finally:
            stop_process(proc)
    assert receiver.rejected == []
    assert receiver.ids == [cut["message_id"], cut["message_id"]]
    [done] = cli(env, tmp_path, "webhooks", "deliveries")["deliveries"]
    assert (done["status"], done["attempts"]) == ("delivered", 1)
