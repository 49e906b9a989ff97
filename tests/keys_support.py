"""Helpers for private_key_jwt tests (RFC 7523): client keys, their JWK Sets and client
assertions signed the way a client library signs them (joserfc)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, OKPKey, RSAKey

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ISSUER = "http://localhost:8000"

Key = RSAKey | ECKey | OKPKey


def ec_key(kid: str = "k1") -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": kid}, private=True)


def rsa_key(kid: str = "r1", bits: int = 2048) -> RSAKey:
    return RSAKey.generate_key(bits, parameters={"kid": kid}, private=True)


def ed_key(kid: str = "e1") -> OKPKey:
    return OKPKey.generate_key("Ed25519", parameters={"kid": kid}, private=True)


def jwks(*keys: Key) -> str:
    """The public JWK Set of ``keys`` as JSON text."""
    return json.dumps({"keys": [k.as_dict(private=False) for k in keys]})


def assertion(
    key: Key,
    client_id: str,
    *,
    alg: str = "ES256",
    aud: Any = ISSUER,
    lifetime: int = 60,
    header: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
    **claims: Any,
) -> str:
    """A client assertion (RFC 7523 §3) for ``client_id``; ``claims`` override or add, ``drop``
    removes."""
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": client_id,
        "sub": client_id,
        "aud": aud,
        "iat": now,
        "exp": now + lifetime,
        "jti": uuid.uuid4().hex,
    }
    body.update(claims)
    for name in drop:
        body.pop(name, None)
    head = {"alg": alg, "kid": key.kid, **(header or {})}
    if head.get("kid") is None:
        head.pop("kid")
    return jwt.encode(head, body, key, algorithms=[alg])


def assertion_form(signed: str, /, **extra: str) -> dict[str, str]:
    return {"client_assertion_type": JWT_BEARER, "client_assertion": signed, **extra}


class JwksServer:
    """A real HTTP server on 127.0.0.1, in a thread, publishing a JWK Set at ``/jwks.json``:
    what it serves (``body``, ``status``), how slowly (``delay`` seconds) and how often it was
    asked (``hits``) are the test's to set and read."""

    def __init__(self, body: str = '{"keys": []}') -> None:
        self.body = body.encode()
        self.status = 200
        self.delay = 0.0
        self.hits = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server._lock:
                    server.hits += 1
                if server.delay:
                    time.sleep(server.delay)
                with contextlib.suppress(OSError):
                    self.send_response(server.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(server.body)))
                    self.end_headers()
                    self.wfile.write(server.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def publish(self, *keys: Key) -> None:
        self.body = jwks(*keys).encode()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/jwks.json"

    def __enter__(self) -> JwksServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
