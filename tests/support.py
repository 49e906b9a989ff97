"""Helpers for tests: settings, a cookie-keeping browser over ASGI, form handling."""

from __future__ import annotations

import re
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from frontdesk.settings import Settings

TEST_SECRET = "test-secret-key-for-frontdesk-tests-0123456789"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "correct horse battery staple"


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "public_url": "http://localhost:8000",
        "secret_key": TEST_SECRET,
        "secret_key_file": None,
        "env": "development",
        "redis_url": None,
        "trusted_proxies": [],
        "argon2_time_cost": 1,
        "argon2_memory_kib": 64,
        "argon2_parallelism": 1,
        "hash_concurrency": 2,
        # No webhook delivery task polling the database behind a test's back; the webhook
        # tests drive the worker themselves (tests/webhooks/conftest.py) or run a server.
        "webhooks_worker": False,
        # Likewise the email outbox's sender (tests/accounts drive it round by round).
        "email_worker": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no csrf_token field"
    return match.group(1)


class Browser:
    """One browser on one host: keeps its cookies, reads anti-forgery tokens from pages."""

    def __init__(
        self, app: Any, host: str = "localhost:8000", scheme: str = "http", client_ip: str = "198.51.100.7"
    ) -> None:
        transport = httpx.ASGITransport(app=app, client=(client_ip, 40000))
        self.origin = f"{scheme}://{host}"
        self.http = httpx.AsyncClient(transport=transport, base_url=self.origin, follow_redirects=False)

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.get(path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.post(path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.delete(path, **kwargs)

    async def token(self, page: str) -> str:
        response = await self.get(page)
        assert response.status_code == 200, (page, response.status_code)
        return csrf_from(response.text)

    async def submit(
        self, page: str, data: dict[str, Any], action: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        """GET ``page`` for its token, then POST ``data`` to ``action`` (default: the page)."""
        token = await self.token(page)
        return await self.post(action or page.split("?", 1)[0], data={**data, "csrf_token": token}, **kwargs)

    async def signup(self, email: str, password: str = PASSWORD, name: str = "Test User") -> httpx.Response:
        response = await self.submit("/signup", {"email": email, "password": password, "name": name})
        assert response.status_code == 303, response.text
        return response

    async def login(self, email: str, password: str = PASSWORD) -> httpx.Response:
        return await self.submit("/login", {"email": email, "password": password})


def worker_pids(supervisor: int) -> list[int]:
    """The workers of a `frontdesk serve --workers N` supervisor: its children, forked from it
    and so running its command line (web/supervisor.py), from /proc."""
    found: set[int] = set()
    for task in Path(f"/proc/{supervisor}/task").iterdir():
        found.update(int(child) for child in (task / "children").read_text().split())
    return sorted(
        pid for pid in found if b"frontdesk.web.supervisor" in _read_bytes(Path(f"/proc/{pid}/cmdline"))
    )


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:  # the process ended meanwhile
        return b""


def stop_process(proc: subprocess.Popen[Any], log: Path | None = None, grace: float = 30) -> None:
    """End a server a test started: SIGTERM, then wait. One still running after ``grace``
    seconds is killed and reported as a warning with the end of its log (cleanup, not a test's
    verdict; tests/e2e/test_server.py::test_sigterm_does_not_wait_for_a_stalled_request holds
    the shutdown bound)."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
        tail = log.read_text(errors="replace")[-4000:] if log is not None and log.exists() else ""
        warnings.warn(f"process {proc.pid} ignored SIGTERM for {grace} s; log ends:\n{tail}", stacklevel=2)


@dataclass(frozen=True)
class FromNow:
    """A time claim ``seconds`` from when the test runs (not from when it was collected: a
    long run would turn "in the future" into the past)."""

    seconds: int


def at_run_time(claims: dict[str, Any]) -> dict[str, Any]:
    now = int(time.time())
    return {k: now + v.seconds if isinstance(v, FromNow) else v for k, v in claims.items()}


# Start-up and shut-down take 10-90 ms here; asgi-lifespan's default limit of 5 s each is for a
# hang, and a loaded 2-core CI machine once went past it (an ERROR at set-up with nothing wrong).
LIFESPAN_SECONDS = 60.0


def lifespan(app: Any) -> LifespanManager:
    """Run the application's lifespan around a test, with room for a slow machine."""
    return LifespanManager(app, startup_timeout=LIFESPAN_SECONDS, shutdown_timeout=LIFESPAN_SECONDS)
