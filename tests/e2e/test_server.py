"""Drive a real uvicorn process as a person's browser would."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import FRONTDESK, Server, free_port, server_env
from tests.support import PASSWORD, csrf_from

pytestmark = pytest.mark.e2e


def form(client: object, page: str, data: dict[str, str], action: str | None = None):  # type: ignore[no-untyped-def]
    response = client.get(page)  # type: ignore[attr-defined]
    assert response.status_code == 200, response.text
    return client.post(action or page, data={**data, "csrf_token": csrf_from(response.text)})  # type: ignore[attr-defined]


def test_sign_up_create_space_and_administer_it_on_its_host(server: Server) -> None:
    with server.client() as main:
        r = form(main, "/signup", {"name": "Eve", "email": "eve@example.com", "password": PASSWORD})
        assert r.status_code == 303
        r = form(main, "/spaces/new", {"name": "Eve's Place", "subdomain": "eves", "custom_domain": ""})
        assert r.status_code == 303
        assert f"http://eves.localhost:{server.port}/" in main.get("/").text
    with server.client("eves.localhost") as space:
        assert "Log in to see this space" in space.get("/").text
        assert form(space, "/login", {"email": "eve@example.com", "password": PASSWORD}).status_code == 303
        assert "You are an admin of Eve" in space.get("/").text
        r = form(space, "/admin/settings", {"name": "Eve's Place", "custom_domain": "desk.eve.test"})
        assert r.status_code == 303
    with server.client("desk.eve.test") as custom:
        assert "Eve&#39;s Place" in custom.get("/").text
    with server.client("unknown.test") as other:
        assert other.get("/").status_code == 404


def test_the_server_log_shows_requests(server: Server) -> None:
    with server.client() as c:
        c.get("/login?next=/x")
    assert '"GET /login?next=/x HTTP/1.1" 200' in server.read_log()


def test_serve_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    port = free_port()
    result = subprocess.run(
        [FRONTDESK, "serve", "--port", str(port)],
        env=server_env(tmp_path, port),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "Run `frontdesk db upgrade`" in result.stderr
