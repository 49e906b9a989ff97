"""A real receiving HTTP server for webhooks, on 127.0.0.1 in a thread: it checks every
delivery's signature with ``standardwebhooks`` (as docs/integrating.md tells receivers to) and
keeps the verified payloads in arrival order."""

from __future__ import annotations

import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class Receiver:
    def __init__(self, port: int = 0, *, status: int = 204) -> None:
        self.secret: str | None = None
        self.status = status
        self.received: list[dict[str, Any]] = []
        self.ids: list[str] = []
        self.rejected: list[str] = []
        self.headers: list[dict[str, str]] = []
        # While set, deliveries are received but not answered (until released or 30 s).
        self.hold: threading.Event | None = None
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    assert receiver.secret is not None
                    payload = Webhook(receiver.secret).verify(body, headers)
                except (WebhookVerificationError, AssertionError) as exc:
                    with receiver._lock:
                        receiver.rejected.append(str(exc))
                    self.send_response(400)
                    self.end_headers()
                    return
                with receiver._lock:
                    if receiver.status < 300:
                        receiver.received.append(payload)
                        receiver.ids.append(headers["webhook-id"])
                    receiver.headers.append(headers)
                if receiver.hold is not None:
                    receiver.hold.wait(30)
                with contextlib.suppress(OSError):  # the sender may be gone (killed)
                    self.send_response(receiver.status)
                    self.send_header("content-length", "0")
                    self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def types(self) -> list[str]:
        with self._lock:
            return [p["type"] for p in self.received]

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
