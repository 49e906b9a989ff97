"""A TCP proxy on 127.0.0.1 that the failure tests put between the servers and PostgreSQL or
Redis: :meth:`Proxy.cut` closes every open connection and refuses new ones (the engine is
down, as a restart or a network cut looks to a client), :meth:`Proxy.restore` lets them in
again. Only this test's servers go through it, so nobody else sharing the engine notices."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator


class Proxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(256)
        self.port: int = self.listener.getsockname()[1]
        self.up = True
        self.frozen = False  # forward nothing, close nothing: a silent network partition
        self.lock = threading.Lock()
        self.open: set[socket.socket] = set()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                _close(client)  # the engine is "down": the connection is refused at once
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self.lock:
                self.open.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                while self.frozen and not self.closed:
                    time.sleep(0.01)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with self.lock:
                    self.open.discard(s)
                _close(s)

    def cut(self) -> None:
        """Every connection through the proxy is reset; new ones are closed as they come."""
        self.up = False
        with self.lock:
            sockets, self.open = list(self.open), set()
        for s in sockets:
            _close(s)

    def restore(self) -> None:
        self.up = True

    def freeze(self) -> None:
        """Bytes stop flowing, but no connection closes: what a dropped-packet partition looks
        like, noticed only by a peer that waits for an answer."""
        self.frozen = True

    def thaw(self) -> None:
        self.frozen = False

    def close(self) -> None:
        self.closed = True
        self.frozen = False
        self.cut()
        _close(self.listener)


def _close(s: socket.socket) -> None:
    with contextlib.suppress(OSError):
        s.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        s.close()


@contextlib.contextmanager
def proxy_for(host: str, port: int) -> Iterator[Proxy]:
    proxy = Proxy(host, port)
    try:
        yield proxy
    finally:
        proxy.close()
