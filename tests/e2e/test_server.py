"""Drive a real uvicorn process as a person's browser would."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import FRONTDESK, Server, free_port, server_env, start, wait_ready
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


def test_sigterm_does_not_wait_for_a_stalled_request(tmp_path: Path) -> None:
    """A client that sends half a body holds a request open; on SIGTERM the server gives it
    FRONTDESK_SHUTDOWN_TIMEOUT_SECONDS and then exits anyway."""
    port = free_port()
    env = server_env(tmp_path, port, FRONTDESK_SHUTDOWN_TIMEOUT_SECONDS="1")
    subprocess.run([FRONTDESK, "db", "upgrade"], env=env, cwd=tmp_path, check=True, capture_output=True)
    proc = start(tmp_path, port, env)
    try:
        wait_ready(port, proc)
        with socket.create_connection(("127.0.0.1", port)) as stalled:
            stalled.sendall(
                b"POST /oauth/access_token HTTP/1.1\r\nHost: localhost\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n"
                b"grant_type=pass"
            )
            time.sleep(0.5)  # the request has reached the application, which waits for the rest
            began = time.monotonic()
            proc.terminate()
            returncode = proc.wait(20)
            took = time.monotonic() - began
        assert returncode == -signal.SIGTERM  # uvicorn ends by re-raising the signal it caught
        assert took < 8, f"the server took {took:.1f} s to stop"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
