"""Issuing access tokens and the token response (RFC 6749 §5.1, RFC 6750 §4).

Tokens are opaque: 256 random bits, base64url, with a fixed prefix so leaked tokens can be
found by secret scanners. Only their digest is stored. By default they never expire and the
response carries no ``expires_in`` (project decisions 5 and 6).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from frontdesk.oauth.config import OAuthConfig
from frontdesk.oauth.models import Client, NewToken
from frontdesk.oauth.scopes import format_scope
from frontdesk.oauth.storage import TokenStore
from frontdesk.security.randoms import ACCESS_TOKEN_PREFIX, new_secret

# RFC 6749 §5.1: "Cache-Control: no-store" and "Pragma: no-cache" on every token response.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@dataclass(frozen=True)
class TokenResponse:
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=lambda: dict(NO_STORE))
    status_code: int = 200


@dataclass(frozen=True)
class Issued:
    raw: str
    token_id: str
    response: TokenResponse


async def issue_access_token(
    store: TokenStore,
    config: OAuthConfig,
    *,
    client: Client,
    user_id: str,
    scopes: tuple[str, ...],
    grant_type: str,
    space_id: str | None = None,
    code_id: str | None = None,
    parent_id: str | None = None,
) -> Issued:
    raw = new_secret(ACCESS_TOKEN_PREFIX)
    expires_at = None
    if client.access_token_ttl:
        expires_at = config.clock() + timedelta(seconds=client.access_token_ttl)
    token_id = await store.save_token(
        raw,
        NewToken(
            client_id=client.client_id,
            user_id=user_id,
            scopes=scopes,
            grant_type=grant_type,
            space_id=space_id,
            code_id=code_id,
            parent_id=parent_id,
            expires_at=expires_at,
        ),
    )
    body: dict[str, Any] = {"access_token": raw, "token_type": "bearer", "scope": format_scope(scopes)}
    if client.access_token_ttl:
        body["expires_in"] = client.access_token_ttl
    return Issued(raw=raw, token_id=token_id, response=TokenResponse(body=body))
