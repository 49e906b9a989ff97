"""The HTTP server's cap on request heads, for ``frontdesk serve``.

The application refuses a request line plus headers over ``FRONTDESK_MAX_HEADER_BYTES`` with
431 (:mod:`frontdesk.web.limits`), but it sees a request only once the server has read its
whole head. uvicorn's h11 protocol caps the head itself (``h11_max_incomplete_event_size``,
answered 400); its httptools protocol, the faster one it picks when installed, has no cap at
all: a 100 MB header was read into memory and answered ``200``.

:class:`HeadLimitedHttpToolsProtocol` is uvicorn's httptools protocol (chosen through
uvicorn's own ``http=`` option) that counts the bytes received while a request head is
incomplete and, once they pass the cap, answers ``431 Request Header Fields Too Large``
(RFC 6585 §5) and closes the connection. It reads the cap from the same uvicorn setting the
h11 protocol uses, so ``frontdesk serve`` passes one number to either.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

DEFAULT_LIMIT = 16384
HTTP_PROTOCOL = "frontdesk.web.server:HeadLimitedHttpToolsProtocol"
BODY = b"request header fields too large"


class HeadLimitedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head_limit: int = self.config.h11_max_incomplete_event_size or DEFAULT_LIMIT
        self.in_head = True  # a connection starts with a request head
        self.head_bytes = 0

    def data_received(self, data: bytes) -> None:
        counting = self.in_head
        if counting:
            self.head_bytes += len(data)
        super().data_received(data)
        # Still inside the head after this chunk: everything counted was head. (A head that
        # completes in this chunk is measured exactly by the application, web/limits.py.)
        if (
            counting
            and self.in_head
            and self.head_bytes > self.head_limit
            and not self.transport.is_closing()
        ):
            self.send_431_response()

    def on_headers_complete(self) -> None:
        self.in_head = False
        self.head_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.in_head = True  # the next request on this connection

    def send_431_response(self) -> None:
        self.logger.warning("Request head over %d bytes refused.", self.head_limit)
        content = [STATUS_LINE[431]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: text/plain; charset=utf-8\r\n",
                b"content-length: " + str(len(BODY)).encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                BODY,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()
        self.in_head = False


def uvicorn_options(max_header_bytes: int, shutdown_timeout_seconds: float) -> dict[str, Any]:
    """What ``frontdesk serve`` passes to ``uvicorn.run``: this protocol, the head cap (which
    uvicorn's h11 protocol reads too, should someone choose it), and the bound on a graceful
    shutdown (a stalled client cannot keep a stopping server alive)."""
    return {
        "http": HTTP_PROTOCOL,
        "h11_max_incomplete_event_size": max_header_bytes,
        "timeout_graceful_shutdown": shutdown_timeout_seconds,
    }
