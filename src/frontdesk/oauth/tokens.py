"""Issuing access tokens and building the token response (RFC 6749 §5.1, RFC 6750 §4).

Tokens are opaque: 256 random bits, base64url, with a fixed prefix so leaked tokens can be
found by secret scanners. Only their digest is stored. By default they never expire and the
response carries no ``expires_in`` (docs/decisions.md §5 and §6).

:class:`TokenIssuer` is the one way a token comes to be: every grant, and the space tokens of
:mod:`frontdesk.oauth.space_tokens`, issue through it, and it records the ``token.issued``
audit event. Other specifications add to the response through :class:`ResponseExtra` hooks: a
refresh token for apps that opted in to expiring tokens, an ``id_token`` for ``openid`` (OIDC
Core §3.1.3.3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from frontdesk import events
from frontdesk.oauth.config import OAuthConfig
from frontdesk.oauth.models import Client, NewToken
from frontdesk.oauth.scopes import format_scope
from frontdesk.oauth.storage import Storage
from frontdesk.security.randoms import ACCESS_TOKEN_PREFIX, new_secret

# RFC 6749 §5.1: "Cache-Control: no-store" and "Pragma: no-cache" on every token response.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@dataclass(frozen=True)
class TokenResponse:
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=lambda: dict(NO_STORE))
    status_code: int = 200
    # The issued access token's id (never the token): for the audit log.
    token_id: str | None = None


@dataclass(frozen=True)
class IssueRequest:
    """Everything known about the grant when a token is issued."""

    client: Client
    user_id: str
    scopes: tuple[str, ...]
    grant_type: str
    issuer: str = ""
    space_id: str | None = None
    code_id: str | None = None
    parent_id: str | None = None
    # Refresh-token family this issuance belongs to (set when refreshing).
    family_id: str | None = None
    # OpenID Connect: from the authorization request and the login session.
    nonce: str | None = None
    auth_time: datetime | None = None
    # The space whose host the user authorized on (the code's space): ID token space claims.
    auth_space_id: str | None = None
    # False: the token never expires, whatever the app's lifetime (space tokens).
    expiring: bool = True
    # The caller's address, for the audit log.
    ip: str = ""


@dataclass(frozen=True)
class Issued:
    raw: str
    token_id: str
    request: IssueRequest
    response: TokenResponse


class ResponseExtra(Protocol):
    """Adds fields to a token response (e.g. ``refresh_token``, ``id_token``)."""

    async def extend(self, issued: Issued, body: dict[str, Any], storage: Storage) -> None: ...


class TokenIssuer:
    """Issues the access token, lets each :class:`ResponseExtra` add to the response, and
    records the ``token.issued`` event."""

    def __init__(self, config: OAuthConfig, extras: list[ResponseExtra] | None = None) -> None:
        self.config = config
        self.extras = list(extras or [])

    def with_extras(self, first: list[ResponseExtra]) -> TokenIssuer:
        """This issuer with ``first`` running before its own extras (one request's needs)."""
        return TokenIssuer(self.config, [*first, *self.extras])

    async def issue(self, storage: Storage, req: IssueRequest) -> Issued:
        raw = new_secret(ACCESS_TOKEN_PREFIX)
        ttl = req.client.access_token_ttl if req.expiring else None
        expires_at = self.config.clock() + timedelta(seconds=ttl) if ttl else None
        token_id = await storage.save_token(
            raw,
            NewToken(
                client_id=req.client.client_id,
                user_id=req.user_id,
                scopes=req.scopes,
                grant_type=req.grant_type,
                space_id=req.space_id,
                code_id=req.code_id,
                parent_id=req.parent_id,
                family_id=req.family_id,
                issuer=req.issuer or None,
                expires_at=expires_at,
            ),
        )
        body: dict[str, Any] = {
            "access_token": raw,
            "token_type": "bearer",
            "scope": format_scope(req.scopes),
        }
        if ttl:
            body["expires_in"] = ttl
        # The extras add to ``body`` in place.
        issued = Issued(
            raw=raw, token_id=token_id, request=req, response=TokenResponse(body, token_id=token_id)
        )
        for extra in self.extras:
            await extra.extend(issued, body, storage)
        detail: dict[str, Any] = {"token_id": token_id, "grant_type": req.grant_type}
        if req.family_id is not None:
            detail["family_id"] = req.family_id
        await storage.record_event(
            events.TOKEN_ISSUED,
            user_id=req.user_id,
            app_id=req.client.client_id,
            space_id=req.space_id,
            ip=req.ip,
            detail=detail,
        )
        return issued
