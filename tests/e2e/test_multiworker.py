"""Writes reach the per-worker caches of every other process (frontdesk.store.caching): a
revocation through one server, an app changed with the CLI while servers run.

On PostgreSQL the invalidation travels by LISTEN/NOTIFY and must arrive within 100 ms (the
median of several measurements, printed); on SQLite the other workers poll, within a second.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import FRONTDESK, free_port, server_env, start, wait_ready
from tests.support import PASSWORD, stop_process

pytestmark = pytest.mark.e2e


def cli(env: dict[str, str], cwd: Path, *args: str) -> dict[str, object]:
    out = subprocess.run(
        [FRONTDESK, *args, "--json"], env=env, cwd=cwd, check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def seed_app(env: dict[str, str], cwd: Path) -> dict[str, object]:
    suffix = os.urandom(3).hex()
    cli(env, cwd, "users", "create", f"mw-{suffix}@example.com", "--password", PASSWORD)
    return cli(
        env,
        cwd,
        "clients",
        "create",
        f"MW {suffix}",
        "--owner",
        f"mw-{suffix}@example.com",
        "--redirect-uri",
        "https://app.example/cb",
        "--scope",
        "read_user",
    )


def seed(env: dict[str, str], cwd: Path) -> str:
    def cli(*args: str) -> dict[str, object]:
        out = subprocess.run(
            [FRONTDESK, *args, "--json"], env=env, cwd=cwd, check=True, capture_output=True, text=True
        )
        return json.loads(out.stdout)  # type: ignore[no-any-return]

    suffix = os.urandom(3).hex()
    cli("users", "create", f"mw-{suffix}@example.com", "--password", PASSWORD)
    app = cli(
        "clients",
        "create",
        f"MW {suffix}",
        "--owner",
        f"mw-{suffix}@example.com",
        "--redirect-uri",
        "https://app.example/cb",
        "--scope",
        "read_user",
    )
    return str(app["test_access_token"])


def status(port: int, token: str) -> int:
    # A new connection each time, so the kernel spreads the requests over the workers.
    with httpx.Client(timeout=5) as c:
        return c.get(
            f"http://127.0.0.1:{port}/api/user",
            headers={"authorization": f"Bearer {token}", "host": f"localhost:{port}"},
        ).status_code


def assert_revocation_spreads(ports: list[int], token: str) -> None:
    for _ in range(30):  # warm the caches of every worker
        for port in ports:
            assert status(port, token) == 200
    first = ports[0]
    with httpx.Client() as c:
        revoked = c.delete(
            f"http://127.0.0.1:{first}/api/access_tokens/{token}", headers={"host": f"localhost:{first}"}
        )
    assert revoked.status_code == 204
    start_at = time.monotonic()
    late = []
    while time.monotonic() - start_at < 2.0:
        for port in ports:
            code = status(port, token)
            if time.monotonic() - start_at > 1.0:
                late.append(code)
    assert late and set(late) == {401}, late


@pytest.fixture
def servers(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[list[int], dict[str, str]]]:
    procs: list[subprocess.Popen[bytes]] = []
    ports: list[int] = []
    extra: dict[str, str] = {}
    layout = request.param
    if layout == "postgresql-two-servers":
        url = os.environ.get("FRONTDESK_TEST_DATABASE_URL")
        if not url:
            pytest.skip(
                "set FRONTDESK_TEST_DATABASE_URL (as .ci/run does) for the two-server PostgreSQL case"
            )
        extra["FRONTDESK_DATABASE_URL"] = url
        redis = os.environ.get("FRONTDESK_TEST_REDIS_URL")
        if redis:
            extra["FRONTDESK_REDIS_URL"] = redis
    first_port = free_port()
    env = server_env(tmp_path, first_port, **extra)
    subprocess.run([FRONTDESK, "db", "upgrade"], env=env, cwd=tmp_path, check=True, capture_output=True)
    counts = [2] if layout == "sqlite-two-workers" else [1, 1]
    try:
        for workers in counts:
            port = first_port if not ports else free_port()
            proc = start(
                tmp_path,
                port,
                {**env, "FRONTDESK_PUBLIC_URL": f"http://localhost:{port}"},
                "--workers",
                str(workers),
            )
            procs.append(proc)
            wait_ready(port, proc)
            ports.append(port)
        yield ports, env
    finally:
        for proc in procs:
            stop_process(proc)


@pytest.mark.parametrize("servers", ["sqlite-two-workers", "postgresql-two-servers"], indirect=True)
def test_revocation_reaches_every_worker_within_a_second(
    servers: tuple[list[int], dict[str, str]], tmp_path: Path
) -> None:
    ports, env = servers
    token = seed(env, tmp_path)
    assert_revocation_spreads(ports, token)


def _until(check: Callable[[], bool], limit: float) -> float:
    """Seconds until ``check()`` holds (polling as fast as requests go), or ``limit``."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if check():
            return time.monotonic() - started
    return limit


def _delete(port: int, token: str) -> int:
    with httpx.Client() as c:
        return c.delete(
            f"http://127.0.0.1:{port}/api/access_tokens/{token}", headers={"host": f"localhost:{port}"}
        ).status_code


@pytest.mark.parametrize("servers", ["postgresql-two-servers"], indirect=True)
def test_revocation_reaches_the_other_server_within_100_ms(
    servers: tuple[list[int], dict[str, str]], tmp_path: Path
) -> None:
    first, second = servers[0]
    env = servers[1]
    delays = []
    for _ in range(5):
        token = seed(env, tmp_path)
        for _ in range(5):  # cached on the second server
            assert status(second, token) == 200
        assert _delete(first, token) == 204
        delays.append(_until(lambda token=token: status(second, token) == 401, 2.0))
    delays.sort()
    print(f"revocation seen by the other server after {', '.join(f'{d * 1000:.1f}' for d in delays)} ms")
    assert delays[len(delays) // 2] < 0.100, delays
    assert max(delays) < 2.0, delays  # every one of them arrived


def _password_grant(port: int, app: dict[str, object], scope: str) -> httpx.Response:
    owner = str(app["owner"])
    with httpx.Client(timeout=10) as c:
        return c.post(
            f"http://127.0.0.1:{port}/oauth/access_token",
            headers={"host": f"localhost:{port}"},
            data={
                "grant_type": "password",
                "username": owner,
                "password": PASSWORD,
                "client_id": str(app["client_id"]),
                "client_secret": str(app["client_secret"]),
                "scope": scope,
            },
        )


@pytest.mark.parametrize("servers", ["sqlite-two-workers", "postgresql-two-servers"], indirect=True)
def test_an_app_changed_with_the_cli_is_seen_by_running_servers(
    servers: tuple[list[int], dict[str, str]], tmp_path: Path
) -> None:
    ports, env = servers
    app = seed_app(env, tmp_path)
    for port in ports:  # the servers know (and cache) the app with its old scopes
        narrow = _password_grant(port, app, "read_user read_memberships")
        assert narrow.status_code == 200 and narrow.json()["scope"] == "read_user", narrow.text
    cli(env, tmp_path, "clients", "update", str(app["client_id"]), "--scope", "read_user read_memberships")
    bound = 0.1 if "postgresql" in env["FRONTDESK_DATABASE_URL"] else 1.0
    for port in ports:

        def widened(port: int = port) -> bool:
            response = _password_grant(port, app, "read_user read_memberships")
            return response.status_code == 200 and response.json()["scope"] == "read_user read_memberships"

        delay = _until(widened, 2.0)
        print(f"port {port}: the widened scopes were granted {delay * 1000:.0f} ms after the CLI exited")
        assert delay < bound, delay
        assert widened()
