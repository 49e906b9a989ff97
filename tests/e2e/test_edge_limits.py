"""Input at the edge, against a real ``frontdesk serve`` (issue 11, items 1 and 15):

* request heads over ``FRONTDESK_MAX_HEADER_BYTES`` are refused by the HTTP server itself
  (web/server.py) before it has read them whole, and by the application (web/limits.py);
* a body over ``FRONTDESK_MAX_BODY_BYTES`` is refused before it is read (``Content-Length``)
  or as soon as it passes the cap (chunked), and the connection is closed;
* a ``;`` inside a query-string password does not end its redaction in the access log.

The raw-socket tests would wait for the rest of the request without the caps: the socket
timeout makes them fail instead of hanging."""

from __future__ import annotations

import json
import socket
import uuid

import pytest

from tests.e2e.conftest import Server, Visitor
from tests.e2e.test_cobot_flow import register_app

pytestmark = pytest.mark.e2e
LIMIT = 65536
HEADER_LIMIT = 16384


def exchange(server: Server, *parts: bytes) -> tuple[str, dict[str, str], bytes]:
    """Send ``parts`` on a fresh connection and read the answer up to its end (the server
    closes the connection); returns the status line, the headers and the body."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        for part in parts:
            sock.sendall(part)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return status, headers, body


def request_head(server: Server, method: str, path: str, *headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: localhost:{server.port}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_an_endless_header_is_cut_off_by_the_server(server: Server) -> None:
    """The head never ends: the server answers once it has read more than the cap."""
    start = f"GET /healthz HTTP/1.1\r\nHost: localhost:{server.port}\r\nX-Padding: ".encode()
    status, headers, _ = exchange(server, start, b"a" * (HEADER_LIMIT + 4096))
    assert status == "HTTP/1.1 431 Request Header Fields Too Large"
    assert headers["connection"] == "close"


def test_a_large_header_gets_431(server: Server) -> None:
    head = request_head(
        server, "GET", "/api/user", "Authorization: Bearer x", "X-Padding: " + "a" * HEADER_LIMIT
    )
    status, _, _ = exchange(server, head)
    assert status == "HTTP/1.1 431 Request Header Fields Too Large"


def test_a_declared_body_over_the_cap_is_refused_before_it_is_sent(server: Server) -> None:
    head = request_head(
        server,
        "POST",
        "/oauth/access_token",
        "Content-Type: application/x-www-form-urlencoded",
        f"Content-Length: {200 * 1024 * 1024}",
    )
    status, headers, body = exchange(server, head)
    assert status == "HTTP/1.1 413 Request Entity Too Large"
    assert headers["connection"] == "close"
    assert json.loads(body) == {
        "error": "invalid_request",
        "error_description": f"request body too large (limit {LIMIT} bytes)",
    }


def test_a_chunked_body_is_refused_when_it_passes_the_cap(server: Server) -> None:
    """A chunked upload that has not ended: refused once it passed the cap, without waiting
    for the rest."""
    head = request_head(
        server,
        "POST",
        "/oauth/revoke",
        "Content-Type: application/x-www-form-urlencoded",
        "Transfer-Encoding: chunked",
    )
    chunk = b"4000\r\n" + b"a" * 0x4000 + b"\r\n"  # 16 KiB each
    status, headers, _ = exchange(server, head, *[chunk] * (LIMIT // 0x4000 + 1))
    assert status == "HTTP/1.1 413 Request Entity Too Large"
    assert headers["connection"] == "close"


def test_a_semicolon_in_a_query_password_is_redacted_whole(server: Server) -> None:
    tail = "SuperSecretTail" + uuid.uuid4().hex[:8]
    password = f"first part;{tail}"
    email = f"semi-{uuid.uuid4().hex[:8]}@example.com"
    with Visitor(server) as person:
        person.signup(email, "Semi Colon", password=password)
        app = register_app(person, "Semicolon App", ["read_user"])
    query = (
        f"grant_type=password&username={email}&password=first%20part;{tail}"
        f"&client_id={app.client_id}&client_secret={app.client_secret}"
    )
    with server.client() as http:
        response = http.post(f"/oauth/access_token?{query}")
    assert response.status_code == 200, response.text  # the server read "first part;<tail>"
    log = server.read_log()
    assert "POST /oauth/access_token?grant_type=password" in log
    assert tail not in log
