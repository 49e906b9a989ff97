"""A real `frontdesk serve` process on a free port, with its own SQLite database."""

from __future__ import annotations

import html
import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support import PASSWORD, TEST_SECRET, stop_process

FRONTDESK = str(Path(sys.executable).with_name("frontdesk"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    port: int
    base: str
    log: Path
    env: dict[str, str]

    def url(self, host: str = "localhost") -> str:
        return f"http://{host}:{self.port}"

    def client(self, host: str = "localhost", **kwargs: object) -> httpx.Client:
        """A client that connects to 127.0.0.1 but names ``host`` (no DNS for *.localhost needed)."""
        return httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}",
            headers={"host": f"{host}:{self.port}"},
            follow_redirects=False,
            **kwargs,
        )  # type: ignore[arg-type]

    def read_log(self) -> str:
        return self.log.read_text()


def server_env(tmp: Path, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    env.update(
        {
            "FRONTDESK_DATABASE_URL": f"sqlite:///{tmp}/e2e.db",
            "FRONTDESK_PUBLIC_URL": f"http://localhost:{port}",
            "FRONTDESK_SECRET_KEY": TEST_SECRET,
            "FRONTDESK_ARGON2_TIME_COST": "1",
            "FRONTDESK_ARGON2_MEMORY_KIB": "64",
        }
    )
    env.update(extra)
    return env


def start(tmp: Path, port: int, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    with (tmp / "server.log").open("ab") as log:  # the child keeps its own copy of the handle
        return subprocess.Popen(
            [FRONTDESK, "serve", "--port", str(port), *args],
            env=env,
            cwd=tmp,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 45) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("server did not become ready")


PG_URL = os.environ.get("FRONTDESK_TEST_DATABASE_URL")
PG_SKIP = (
    "PostgreSQL e2e tests skipped: set FRONTDESK_TEST_DATABASE_URL="
    "postgresql://postgres@127.0.0.1:5432/test (or run .ci/run) to run them on PostgreSQL too"
)


def serve(tmp: Path, **extra: str) -> Iterator[Server]:
    """A migrated database and a server on it (``extra``: its settings), stopped afterwards."""
    port = free_port()
    env = server_env(tmp, port, **extra)
    upgrade = subprocess.run(
        [FRONTDESK, "db", "upgrade"], env=env, cwd=tmp, capture_output=True, text=True, timeout=120
    )
    assert upgrade.returncode == 0, upgrade.stderr
    proc = start(tmp, port, env)
    try:
        wait_ready(port, proc)
        yield Server(port=port, base=f"http://localhost:{port}", log=tmp / "server.log", env=env)
    finally:
        stop_process(proc, tmp / "server.log")


@pytest.fixture(scope="module")
def server_settings() -> dict[str, str]:
    """The settings of a module's servers besides the defaults (a module overrides this)."""
    return {}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, server_settings: dict[str, str]) -> Iterator[Server]:
    """A real server on its own SQLite database."""
    yield from serve(tmp_path_factory.mktemp("e2e"), **server_settings)


@pytest.fixture(scope="module")
def pg_server(tmp_path_factory: pytest.TempPathFactory, server_settings: dict[str, str]) -> Iterator[Server]:
    """A real server on the PostgreSQL test database (shared: tests use unique names in it)."""
    if not PG_URL:
        pytest.skip(PG_SKIP)
    yield from serve(tmp_path_factory.mktemp("e2e-pg"), FRONTDESK_DATABASE_URL=PG_URL, **server_settings)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def target(request: pytest.FixtureRequest) -> Server:
    """Each test once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue("server" if request.param == "sqlite" else "pg_server")


# ---- helpers for tests that play a browser against a real server --------------------------------

_FORM_RE = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S | re.I)
_INPUT_RE = re.compile(r"<input\b([^>]*)>", re.I)
_ATTR_RE = re.compile(r'([\w-]+)="([^"]*)"')


def unique(prefix: str) -> str:
    """A name no other test (or an earlier run on a shared database) has used."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _attrs(text: str) -> dict[str, str]:
    return {name.lower(): html.unescape(value) for name, value in _ATTR_RE.findall(text)}


def form_fields(page: str, action: str) -> dict[str, str]:
    """The hidden inputs (csrf_token included) of the form on ``page`` that posts to ``action``.

    Every logged-in page also has a logout form with its own csrf_token, so the token must come
    from inside the right ``<form>``."""
    for form_attrs, body in _FORM_RE.findall(page):
        if _attrs(form_attrs).get("action") != action:
            continue
        fields: dict[str, str] = {}
        for raw in _INPUT_RE.findall(body):
            attrs = _attrs(raw)
            if attrs.get("type") == "hidden" and "name" in attrs:
                fields[attrs["name"]] = attrs.get("value", "")
        return fields
    raise AssertionError(f"the page has no form posting to {action!r}")


def query_of(url: str) -> dict[str, str]:
    """The query parameters of a URL (each must appear once)."""
    pairs = parse_qs(urlsplit(url).query, keep_blank_values=True)
    assert all(len(v) == 1 for v in pairs.values()), f"repeated parameters in {url}"
    return {k: v[0] for k, v in pairs.items()}


def path_of(url: str) -> str:
    """Path and query of a URL, for a client that already names the host."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


class Visitor:
    """A person's browser on one host of a real server: keeps its cookies, fills in forms."""

    def __init__(self, server: Server, host: str = "localhost") -> None:
        self.server = server
        self.host = host
        self.origin = server.url(host)
        self.http = server.client(host)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Visitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        """GET a path, or an absolute URL on this visitor's host."""
        if not url.startswith("/"):
            assert url.startswith(self.origin + "/"), f"{url} is not on {self.origin}"
            url = path_of(url)
        return self.http.get(url, **kwargs)

    def page(self, url: str) -> httpx.Response:
        response = self.get(url)
        assert response.status_code == 200, (url, response.status_code, response.text[:500])
        return response

    def submit(self, page: str, action: str, data: dict[str, Any]) -> httpx.Response:
        """Open ``page``, fill the form that posts to ``action`` with ``data``, send it."""
        fields = form_fields(self.page(page).text, action)
        return self.http.post(action, data={**fields, **data})

    def signup(self, email: str, name: str, password: str = PASSWORD) -> None:
        response = self.submit("/signup", "/signup", {"name": name, "email": email, "password": password})
        assert response.status_code == 303, response.text

    def login(self, email: str, password: str = PASSWORD, page: str = "/login") -> httpx.Response:
        """Log in on the login page (``page`` may carry ``?next=``); returns the 303."""
        response = self.submit(page, "/login", {"email": email, "password": password})
        assert response.status_code == 303, response.text
        return response


def cli(server: Server, *args: str) -> Any:
    """Run ``frontdesk ARGS --json`` against the server's database; returns the parsed output."""
    result = subprocess.run(
        [FRONTDESK, *args, "--json"],
        env=server.env,
        cwd=server.log.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
