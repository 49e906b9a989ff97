"""Real `frontdesk serve` servers on PostgreSQL + Redis, each reached through a TCP proxy the
test can cut (tests/faults/proxy.py). Skipped without ``FRONTDESK_TEST_DATABASE_URL`` and
``FRONTDESK_TEST_REDIS_URL`` (``.ci/run`` sets both).

``FRONTDESK_FAULTS_LONG=1`` runs the long version (more threads, more rounds, more trials);
the default fits CI (a few minutes on 2 cores)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from sqlalchemy import make_url

from tests.e2e.conftest import FRONTDESK, free_port, server_env, wait_ready
from tests.faults.proxy import Proxy
from tests.support import PASSWORD, stop_process

N = TypeVar("N", int, float)
LONG = os.environ.get("FRONTDESK_FAULTS_LONG", "") not in ("", "0")
SKIP = (
    "the failure suite needs PostgreSQL and Redis: set FRONTDESK_TEST_DATABASE_URL and "
    "FRONTDESK_TEST_REDIS_URL (as .ci/run does)"
)


def scale(ci: N, long: N) -> N:
    return long if LONG else ci


def report(capsys: pytest.CaptureFixture[str] | None, line: str) -> None:
    """A figure the suite proves: shown on the terminal whatever pytest's capture."""
    if capsys is not None:
        with capsys.disabled():
            print(f"\n[faults] {line}", flush=True)
    else:
        print(f"[faults] {line}", flush=True)


@dataclass
class Stack:
    """One PostgreSQL database and one Redis database, each behind its own proxy."""

    tmp: Path
    database_url: str  # direct, for the CLI and for checking rows
    redis_url: str
    pg: Proxy
    redis: Proxy
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    proxies: list[Proxy] = field(default_factory=list)

    def proxied_database_url(self, pg: Proxy | None = None) -> str:
        url = make_url(self.database_url)
        return url.set(host="127.0.0.1", port=(pg or self.pg).port).render_as_string(hide_password=False)

    def pg_proxy(self) -> Proxy:
        """Another way in to the same database, that only the servers given it use."""
        url = make_url(self.database_url)
        proxy = Proxy(url.host or "127.0.0.1", url.port or 5432)
        self.proxies.append(proxy)
        return proxy

    def proxied_redis_url(self) -> str:
        parts = urlsplit(self.redis_url)
        netloc = parts.netloc.rpartition("@")
        auth = netloc[0] + "@" if netloc[0] else ""
        return urlunsplit(parts._replace(netloc=f"{auth}127.0.0.1:{self.redis.port}"))

    def env(self, port: int, pg: Proxy | None = None, **extra: str) -> dict[str, str]:
        env = {
            "FRONTDESK_DATABASE_URL": self.proxied_database_url(pg),
            "FRONTDESK_REDIS_URL": self.proxied_redis_url(),
            # The checks below call the API far more often than one person would.
            "FRONTDESK_API_RATE_LIMIT": "0",
        }
        return server_env(self.tmp, port, **{**env, **extra})

    def cli_env(self) -> dict[str, str]:
        return server_env(
            self.tmp, 0, FRONTDESK_DATABASE_URL=self.database_url, FRONTDESK_REDIS_URL=self.redis_url
        )

    def cli(self, *args: str) -> Any:
        out = subprocess.run(
            [FRONTDESK, *args, "--json"],
            env=self.cli_env(),
            cwd=self.tmp,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    def serve(
        self, port: int | None = None, workers: int = 2, pg: Proxy | None = None, **extra: str
    ) -> tuple[subprocess.Popen[bytes], int]:
        port = port or free_port()
        path = self.tmp / f"server-{port}.log"
        offset = path.stat().st_size if path.exists() else 0
        with path.open("ab") as log:
            proc = subprocess.Popen(
                [FRONTDESK, "serve", "--port", str(port), "--workers", str(workers)],
                env=self.env(port, pg, **extra),
                cwd=self.tmp,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killpg reaches the workers
            )
        self.procs.append(proc)
        wait_ready(port, proc, timeout=60)

        def all_workers_up() -> bool:
            with path.open("rb") as f:
                f.seek(offset)
                return f.read().count(b"Application startup complete") >= workers

        wait_until(all_workers_up, 60)
        return proc, port

    def log(self, port: int) -> str:
        return (self.tmp / f"server-{port}.log").read_text(errors="replace")

    def app(self, *options: str, scopes: str = "read_user") -> dict[str, Any]:
        """A person and an app of theirs (with a test access token)."""
        email = f"faults-{os.urandom(4).hex()}@example.com"
        self.cli("users", "create", email, "--password", PASSWORD)
        app: dict[str, Any] = self.cli(
            "clients",
            "create",
            f"Faults {email}",
            "--owner",
            email,
            "--redirect-uri",
            "https://app.example/cb",
            "--scope",
            scopes,
            *options,
        )
        app["owner"] = email
        return app


@pytest.fixture
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    if not (os.environ.get("FRONTDESK_TEST_DATABASE_URL") and os.environ.get("FRONTDESK_TEST_REDIS_URL")):
        pytest.skip(SKIP)
    database_url: str = request.getfixturevalue("postgres_url")
    redis_url = os.environ["FRONTDESK_TEST_REDIS_URL"]
    pg_url = make_url(database_url)
    redis_parts = urlsplit(redis_url)
    pg = Proxy(pg_url.host or "127.0.0.1", pg_url.port or 5432)
    redis = Proxy(redis_parts.hostname or "127.0.0.1", redis_parts.port or 6379)
    s = Stack(tmp=tmp_path, database_url=database_url, redis_url=redis_url, pg=pg, redis=redis)
    try:
        yield s
    finally:
        for proc in s.procs:
            if proc.poll() is None:
                stop_process(proc)
        for proxy in (pg, redis, *s.proxies):
            proxy.close()


def api_user(port: int, token: str, timeout: float = 5) -> int:
    """GET /api/user with a fresh connection (spread over the workers)."""
    with httpx.Client(timeout=timeout) as c:
        return c.get(
            f"http://127.0.0.1:{port}/api/user",
            headers={"authorization": f"Bearer {token}", "host": f"localhost:{port}"},
        ).status_code


def api_user_soon(port: int, token: str, expected: int, seconds: float = 1.0) -> int:
    """GET /api/user with ``token`` until it answers ``expected`` or ``seconds`` passed; the last
    status. A revocation committed by one worker reaches the other's cache through the
    invalidation channel within milliseconds, not at once (docs/operations.md; the bound is
    measured in test_outages.py): a call right after may meet the other worker first."""
    deadline = time.monotonic() + seconds
    while True:
        status = api_user(port, token)
        if status == expected or time.monotonic() > deadline:
            return status
        time.sleep(0.01)


def wait_until(check: Any, seconds: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if check():
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"not within {seconds} s")
