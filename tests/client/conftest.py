"""A live Frontdesk for the client library's tests, seeded with the ``frontdesk`` CLI.

One ``frontdesk serve`` process for the whole directory (the e2e fixture pattern of
tests/e2e/conftest.py), and loopback transports so the library can talk to
``http://co-up.localhost:PORT`` without DNS: they connect to 127.0.0.1 and keep the Host
header. A :class:`Browser` plays the person (log in, approve or deny on the consent page).
"""

from __future__ import annotations

import html
import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from frontdesk.client import AsyncClient, Client, RetryPolicy
from tests.e2e.conftest import FRONTDESK, Server, free_port, server_env, start, wait_ready
from tests.support import PASSWORD, stop_process

CALLBACK = "http://127.0.0.1:9/auth/callback"  # a loopback URI: never followed by the tests
SCOPES = "openid email profile read_user read_memberships navigation"
NO_RETRY = RetryPolicy(retries=0)


# ---- transports -------------------------------------------------------------------------------


def _to_loopback(request: httpx.Request, port: int) -> httpx.Request:
    """The same request, sent to 127.0.0.1:port; the Host header still names the real host."""
    return httpx.Request(
        request.method,
        request.url.copy_with(host="127.0.0.1", port=port),
        headers=request.headers,
        stream=request.stream,
        extensions=request.extensions,
    )


class LoopbackTransport(httpx.HTTPTransport):
    def __init__(self, port: int) -> None:
        super().__init__()
        self.port = port

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return super().handle_request(_to_loopback(request, self.port))


class AsyncLoopbackTransport(httpx.AsyncHTTPTransport):
    def __init__(self, port: int) -> None:
        super().__init__()
        self.port = port

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await super().handle_async_request(_to_loopback(request, self.port))


# ---- the server and its data ------------------------------------------------------------------


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("client-e2e")
    port = free_port()
    # Devices poll every second here (tests/client/test_device_flow.py), not every five.
    env = server_env(
        tmp, port, FRONTDESK_API_RATE_LIMIT="6000/minute", FRONTDESK_DEVICE_POLL_INTERVAL_SECONDS="1"
    )
    subprocess.run([FRONTDESK, "db", "upgrade"], env=env, cwd=tmp, check=True, capture_output=True)
    proc = start(tmp, port, env)
    try:
        wait_ready(port, proc)
        yield Server(port=port, base=f"http://localhost:{port}", log=tmp / "server.log", env=env)
    finally:
        stop_process(proc)


def cli(server: Server, *args: str) -> Any:
    """``frontdesk ARGS --json`` against the server's database."""
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


def cli_optional(server: Server, *args: str) -> Any | None:
    """Like :func:`cli`, but None when the command does not know an option (yet)."""
    result = subprocess.run(
        [FRONTDESK, *args, "--json"],
        env=server.env,
        cwd=server.log.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0 and "no such option" in result.stderr.lower():
        return None
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@dataclass(frozen=True)
class App:
    client_id: str
    client_secret: str | None
    access_token_ttl: int | None = None


@dataclass(frozen=True)
class World:
    server: Server
    issuer: str  # the main issuer, http://localhost:PORT
    alice: str  # admin of co-up and harbour
    bob: str  # member of co-up
    app: App  # confidential, password grant on
    public_app: App  # public: PKCE, no secret
    expiring_app: App | None  # access_token_ttl + refresh tokens (None: the CLI cannot make one)
    space: str = "co-up"
    custom_space: str = "harbour"
    custom_domain: str = "members.harbour.test"

    @property
    def port(self) -> int:
        return self.server.port

    def space_issuer(self, subdomain: str | None = None) -> str:
        return f"http://{subdomain or self.space}.localhost:{self.port}"

    def client(self, app: App | None = None, **kwargs: Any) -> Client:
        app = app or self.app
        kwargs.setdefault("redirect_uri", CALLBACK)
        kwargs.setdefault("retry", NO_RETRY)
        return Client(
            app.client_id,
            app.client_secret,
            issuer=self.issuer,
            transport=LoopbackTransport(self.port),
            **kwargs,
        )

    def async_client(self, app: App | None = None, **kwargs: Any) -> AsyncClient:
        app = app or self.app
        kwargs.setdefault("redirect_uri", CALLBACK)
        kwargs.setdefault("retry", NO_RETRY)
        return AsyncClient(
            app.client_id,
            app.client_secret,
            issuer=self.issuer,
            transport=AsyncLoopbackTransport(self.port),
            **kwargs,
        )


def _app(data: dict[str, Any]) -> App:
    return App(data["client_id"], data.get("client_secret"), data.get("access_token_ttl"))


@pytest.fixture(scope="session")
def world(server: Server) -> World:
    alice, bob = "alice@example.com", "bob@example.com"
    cli(server, "users", "create", alice, "--password", PASSWORD, "--name", "Alice Admin")
    cli(server, "users", "create", bob, "--password", PASSWORD, "--name", "Bob Member")
    cli(server, "spaces", "create", "co-up", "--name", "Co-Up", "--admin", alice)
    cli(server, "members", "add", "co-up", bob)
    cli(
        server,
        "spaces",
        "create",
        "harbour",
        "--name",
        "Harbour Desks",
        "--admin",
        alice,
        "--custom-domain",
        "members.harbour.test",
    )
    common = ["--owner", alice, "--redirect-uri", CALLBACK, "--scope", SCOPES]
    app = cli(server, "clients", "create", "Desk Helper", *common)
    public_app = cli(server, "clients", "create", "Desk Mobile", *common, "--public")
    expiring = cli_optional(
        server, "clients", "create", "Desk Expiring", *common, "--access-token-ttl", "300"
    )
    return World(
        server=server,
        issuer=server.base,
        alice=alice,
        bob=bob,
        app=_app(app),
        public_app=_app(public_app),
        expiring_app=_app(expiring) if expiring is not None else None,
    )


# ---- the person's browser ---------------------------------------------------------------------

_FORM_RE = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S | re.I)
_INPUT_RE = re.compile(r"<input\b([^>]*)>", re.I)
_ATTR_RE = re.compile(r'([\w-]+)="([^"]*)"')


def _attrs(text: str) -> dict[str, str]:
    return {name.lower(): html.unescape(value) for name, value in _ATTR_RE.findall(text)}


def form_fields(page: str, action: str) -> dict[str, str]:
    """The hidden inputs of the form posting to ``action`` (each logged-in page also has a
    logout form with its own csrf_token, so take the one inside the right form)."""
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


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


class Browser:
    """A person's browser: cookies per host (sessions are per host), forms filled in."""

    def __init__(self, server: Server, email: str, password: str = PASSWORD) -> None:
        self.server = server
        self.email = email
        self.password = password
        self._clients: dict[str, httpx.Client] = {}

    def http(self, host: str) -> httpx.Client:
        if host not in self._clients:
            self._clients[host] = self.server.client(host)
        return self._clients[host]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self, url: str) -> httpx.Response:
        """GET an absolute URL on the server, logging in on that host when sent to /login."""
        host = urlsplit(url).hostname or "localhost"
        http = self.http(host)
        response = http.get(path_of(url))
        if response.status_code == 303 and response.headers["location"].startswith("/login"):
            login = http.get(response.headers["location"])
            assert login.status_code == 200, login.text
            fields = form_fields(login.text, "/login")
            done = http.post("/login", data={**fields, "email": self.email, "password": self.password})
            assert done.status_code == 303, done.text
            response = http.get(path_of(done.headers["location"]))
        return response

    def authorize(self, url: str, decision: str = "approve") -> str:
        """Open the authorization URL, decide on the consent page (if it is shown: consent is
        remembered), and return where the server sends the browser back to: the callback."""
        host = urlsplit(url).hostname or "localhost"
        response = self.open(url)
        if response.status_code == 302:  # consent on record, or an error sent back to the app
            return response.headers["location"]
        assert response.status_code == 200, response.text
        fields = form_fields(response.text, "/oauth/authorize")
        decided = self.http(host).post("/oauth/authorize", data={**fields, "decision": decision})
        assert decided.status_code == 303, decided.text
        return decided.headers["location"]


@pytest.fixture
def alice_browser(world: World) -> Iterator[Browser]:
    with Browser(world.server, world.alice) as browser:
        yield browser


@pytest.fixture
def bob_browser(world: World) -> Iterator[Browser]:
    with Browser(world.server, world.bob) as browser:
        yield browser
