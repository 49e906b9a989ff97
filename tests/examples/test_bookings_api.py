"""examples/bookings_api against a live Frontdesk, set up as its README says: the API's URL in
``FRONTDESK_EXTRA_RESOURCES``, the API registered with ``--can-introspect``, apps asking for
tokens with ``resource=`` that URL."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from examples.bookings_api import Settings, create_app

from tests.client.conftest import AsyncLoopbackTransport
from tests.e2e.conftest import FRONTDESK, Server, cli, free_port, server_env, start, wait_ready
from tests.support import PASSWORD, lifespan, stop_process

REPO = Path(__file__).resolve().parents[2]
API = "http://localhost:9100"  # the in-process app's URL: its resource identifier
SCOPES = "read_user read_bookings write_bookings"


@dataclass(frozen=True)
class Setup:
    server: Server
    api: dict[str, Any]
    app: dict[str, Any]
    jwt_app: dict[str, Any]

    def settings(self, resource: str = API) -> Settings:
        return Settings(
            issuer=self.server.base,
            resource=resource,
            client_id=self.api["client_id"],
            client_secret=self.api["client_secret"],
        )

    def token(self, app: dict[str, Any], scope: str = SCOPES, **extra: str) -> str:
        with self.server.client() as http:
            response = http.post(
                "/oauth/access_token",
                data={"grant_type": "password", "username": "alice@example.com", "password": PASSWORD}
                | {"scope": scope, **extra},
                auth=(app["client_id"], app["client_secret"]),
            )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("bookings-api")
    port = free_port()
    env = server_env(tmp, port, FRONTDESK_API_RATE_LIMIT="6000/minute", FRONTDESK_EXTRA_RESOURCES=API)
    subprocess.run([FRONTDESK, "db", "upgrade"], env=env, cwd=tmp, check=True, capture_output=True)
    proc = start(tmp, port, env)
    try:
        wait_ready(port, proc)
        server = Server(port=port, base=f"http://localhost:{port}", log=tmp / "server.log", env=env)
        cli(server, "users", "create", "alice@example.com", "--password", PASSWORD, "--name", "Alice")
        cli(server, "spaces", "create", "co-up", "--name", "Co-Up", "--admin", "alice@example.com")
        owner = ["--owner", "alice@example.com"]
        api = cli(
            server, "clients", "create", "Bookings API", *owner, "--redirect-uri", f"{API}/unused",
            "--scope", "read_user", "--can-introspect",
        )  # fmt: skip
        common = [*owner, "--redirect-uri", "https://app.example/cb", "--scope", SCOPES]
        app = cli(server, "clients", "create", "Desk Helper", *common)
        jwt_app = cli(server, "clients", "create", "Desk JWT", *common, "--jwt-access-tokens")
        yield Setup(server, api, app, jwt_app)
    finally:
        stop_process(proc)


@pytest.fixture
async def bookings(setup: Setup) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(setup.settings(), transport=AsyncLoopbackTransport(setup.server.port))
    async with (
        lifespan(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=API) as http,
    ):
        yield http


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_an_app_books_and_lists_with_a_token_for_the_api(
    setup: Setup, bookings: httpx.AsyncClient
) -> None:
    token = setup.token(setup.app, resource=API)
    created = await bookings.post(
        "/bookings", json={"resource": "Desk 4", "space": "co-up"}, headers=auth(token)
    )
    assert created.status_code == 201, created.text
    listed = await bookings.get("/bookings", headers=auth(token))
    assert listed.status_code == 200
    assert [b["resource"] for b in listed.json()["bookings"]] == ["Desk 4"]
    # The same token is not Frontdesk's: its own API refuses it (RFC 8707 audience).
    with setup.server.client() as http:
        assert http.get("/api/user", headers=auth(token)).status_code == 401


async def test_jwt_access_tokens_work_too(setup: Setup, bookings: httpx.AsyncClient) -> None:
    token = setup.token(setup.jwt_app, resource=API)
    assert token.count(".") == 2
    assert (await bookings.get("/bookings", headers=auth(token))).status_code == 200


async def test_refusals_are_rfc_6750_challenges_naming_the_metadata(
    setup: Setup, bookings: httpx.AsyncClient
) -> None:
    none = await bookings.get("/bookings")
    assert none.status_code == 401
    assert (
        f'resource_metadata="{API}/.well-known/oauth-protected-resource"' in none.headers["www-authenticate"]
    )
    metadata = (await bookings.get("/.well-known/oauth-protected-resource")).json()
    assert metadata["resource"] == API
    assert metadata["authorization_servers"] == [setup.server.base]

    read_only = setup.token(setup.app, scope="read_bookings", resource=API)
    refused = await bookings.post("/bookings", json={"resource": "Desk 5"}, headers=auth(read_only))
    assert refused.status_code == 403
    assert refused.json()["error"] == "insufficient_scope"

    for_frontdesk = setup.token(setup.app, resource=f"http://co-up.localhost:{setup.server.port}")
    other = await bookings.get("/bookings", headers=auth(for_frontdesk))
    assert other.status_code == 401
    assert 'error="invalid_token"' in other.headers["www-authenticate"]


def test_the_example_runs_as_a_program(setup: Setup) -> None:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("FRONTDESK_", "BOOKINGS_"))},
        "FRONTDESK_ISSUER": setup.server.base,
        "BOOKINGS_RESOURCE": API,
        "BOOKINGS_CLIENT_ID": setup.api["client_id"],
        "BOOKINGS_CLIENT_SECRET": setup.api["client_secret"],
        "BOOKINGS_PORT": str(port),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "examples.bookings_api"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        token = setup.token(setup.app, resource=API)
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/bookings", headers=auth(token))
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the example did not start"
                assert proc.poll() is None, "the example exited"
                time.sleep(0.2)
        assert response.status_code == 200, response.text
        assert response.json() == {"bookings": []}
    finally:
        stop_process(proc)
