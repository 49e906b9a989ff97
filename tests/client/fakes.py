"""A fake issuer behind ``httpx.MockTransport``: metadata, JWKS, a token endpoint, and JWTs
signed with its own key — for what a real server will not do (lie, fail, expire tokens)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import httpx
from joserfc import jwt
from joserfc.jwk import RSAKey

from frontdesk.client import AsyncClient, Client, RetryPolicy

ISSUER = "https://fake.example"
CLIENT_ID = "fake-client"
SECRET = "fake-secret"
REDIRECT_URI = "https://app.example/cb"
_KEYS: dict[str, RSAKey] = {}


def rsa_key(kid: str) -> RSAKey:
    """Generating RSA keys is slow: one per kid for the whole run."""
    if kid not in _KEYS:
        _KEYS[kid] = RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})
    return _KEYS[kid]


Handler = Callable[[httpx.Request], httpx.Response]


class FakeIssuer:
    def __init__(self, issuer: str = ISSUER, *, metadata_issuer: str | None = None) -> None:
        self.issuer = issuer
        self.metadata_issuer = metadata_issuer or issuer
        self.published = [rsa_key("k1")]
        self.requests: list[httpx.Request] = []
        self.extra_metadata: dict[str, Any] = {}
        self.token_body: dict[str, Any] = {
            "access_token": "at-1",
            "token_type": "bearer",
            "scope": "read_user",
        }
        self.routes: dict[tuple[str, str], Handler] = {}
        self.openid_configuration = True

    # ---- what it serves -----------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        base = self.metadata_issuer
        doc = {
            "issuer": base,
            "authorization_endpoint": f"{base}/oauth/authorize",
            "token_endpoint": f"{base}/oauth/access_token",
            "revocation_endpoint": f"{base}/oauth/revoke",
            "jwks_uri": f"{base}/jwks.json",
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": True,
        }
        doc.update(self.extra_metadata)
        return doc

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.as_dict(private=False) for key in self.published]}

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        route = self.routes.get((request.method, path))
        if route is not None:
            return route(request)
        if path == "/.well-known/openid-configuration" and self.openid_configuration:
            return httpx.Response(200, json=self.metadata())
        if path == "/.well-known/oauth-authorization-server":
            return httpx.Response(200, json=self.metadata())
        if path == "/jwks.json":
            return httpx.Response(200, json=self.jwks())
        if path == "/oauth/access_token" and request.method == "POST":
            return httpx.Response(200, json=self.token_body)
        return httpx.Response(404, json={"error": "not_found"})

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)

    def client(self, **kwargs: Any) -> Client:
        kwargs.setdefault("redirect_uri", REDIRECT_URI)
        kwargs.setdefault("retry", RetryPolicy(retries=0))
        return Client(CLIENT_ID, SECRET, issuer=self.issuer, transport=self.transport(), **kwargs)

    def async_client(self, **kwargs: Any) -> AsyncClient:
        kwargs.setdefault("redirect_uri", REDIRECT_URI)
        kwargs.setdefault("retry", RetryPolicy(retries=0))
        return AsyncClient(CLIENT_ID, SECRET, issuer=self.issuer, transport=self.transport(), **kwargs)

    # ---- helpers ------------------------------------------------------------------------------

    def sign(self, claims: dict[str, Any], *, kid: str = "k1", header: dict[str, Any] | None = None) -> str:
        return jwt.encode({"alg": "RS256", "kid": kid, **(header or {})}, claims, rsa_key(kid))

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        values: dict[str, Any] = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": "user-1",
            "iat": now,
            "exp": now + 600,
        }
        values.update(overrides)
        return {k: v for k, v in values.items() if v is not None}

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]

    def last_form(self) -> dict[str, str]:
        return dict(parse_qsl(self.requests[-1].content.decode()))


def json_body(request: httpx.Request) -> Any:
    return json.loads(request.content)
