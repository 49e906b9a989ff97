"""A small relying party for the logout tests: a real HTTP server (its own thread) that
receives the browser after an RP-initiated logout (``/after-logout``) and back-channel logout
tokens (``POST /backchannel``, OpenID Connect Back-Channel Logout 1.0 §2.5)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class RelyingParty:
    def __init__(self) -> None:
        self.logout_tokens: list[str] = []
        self.returns: list[dict[str, list[str]]] = []
        party = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != "/after-logout":
                    self.send_error(404)
                    return
                party.returns.append(parse_qs(parts.query))
                self._answer(200, b"signed out of the relying party")

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length).decode()
                if self.path != "/backchannel" or self.headers.get("content-type") != (
                    "application/x-www-form-urlencoded"
                ):
                    self.send_error(400)
                    return
                party.logout_tokens.extend(parse_qs(body).get("logout_token", []))
                self._answer(200, b"")

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("content-length", str(len(body)))
                self.send_header("cache-control", "no-store")  # §2.8
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
