"""Issuing access tokens and building the token response (RFC 6749 §5.1, RFC 6750 §4).

Tokens are opaque: 256 random bits, base64url, with a fixed prefix so leaked tokens can be
found by secret scanners. Only their digest is stored. By default they never expire and the
response carries no ``expires_in`` (docs/decisions.md §5 and §6). An app that opted in gets
RFC 9068 JWT access tokens instead (:mod:`frontdesk.oauth.resource`); their digest is stored
the same way. A token requested for one resource (RFC 8707) carries it as its audience. A
token requested with a DPoP proof (RFC 9449 §5, oauth/dpop.py) is bound to the proof's key: its
type is ``DPoP``, it stores the key's thumbprint, and a JWT access token carries ``cnf.jkt``.

:class:`TokenIssuer` is the one way a token comes to be: every grant, and the space tokens of
:mod:`frontdesk.oauth.space_tokens` (Cobot's route and token exchange), issue through it, and
it records the ``token.issued`` audit event. Other specifications add to the response through
:class:`ResponseExtra` hooks: a refresh token for apps that opted in to expiring tokens, an
``id_token`` for ``openid`` (OIDC Core §3.1.3.3).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from frontdesk import events
from frontdesk.oauth.config import OAuthConfig
from frontdesk.oauth.delegation import act_claim
from frontdesk.oauth.models import Client, NewToken
from frontdesk.oauth.resource import jwt_access_token, resource_of
from frontdesk.oauth.scopes import format_scope
from frontdesk.oauth.storage import Storage
from frontdesk.security.randoms import ACCESS_TOKEN_PREFIX, new_id, new_secret

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
    # None: the client_credentials grant, no person (RFC 6749 §4.4).
    user_id: str | None
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
    # RFC 8707: the one resource the token is for (None: every host of this deployment).
    audience: str | None = None
    # The browser session's public id (the code's): the ID token's ``sid``.
    sid: str | None = None
    # How the person logged in (RFC 8176, oauth/amr.py): the ID token's ``amr`` and ``acr``.
    amr: tuple[str, ...] = ()
    # RFC 8693 §4.1: the ``act`` claim (JSON text, oauth/delegation.py) of a delegated token.
    act: str | None = None
    # RFC 8693 (oauth/grants/token_exchange.py): the token lives no longer than this (its
    # subject token's end), whatever the app's lifetime.
    not_after: datetime | None = None
    # RFC 9449 §5: the thumbprint of the key the token is bound to (a DPoP token); None: a
    # bearer token. Set by a bound issuer (:meth:`TokenIssuer.bound_to`).
    dpop_jkt: str | None = None


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
        # RFC 9449 §5: the key every token this issuer issues is bound to (None: bearer).
        self.dpop_jkt: str | None = None

    def with_extras(self, first: list[ResponseExtra]) -> TokenIssuer:
        """This issuer with ``first`` running before its own extras (one request's needs)."""
        more = copy.copy(self)
        more.extras = [*first, *self.extras]
        return more

    def bound_to(self, jkt: str) -> TokenIssuer:
        """This issuer binding what it issues to the key with thumbprint ``jkt`` (RFC 9449 §5:
        one token request's valid DPoP proof; oauth/token_endpoint.py)."""
        bound = copy.copy(self)
        bound.dpop_jkt = jkt
        return bound

    def without_extras(self) -> TokenIssuer:
        """This issuer adding nothing to the response: no refresh token, no ID token (the
        client_credentials grant, RFC 6749 §4.4.3)."""
        alone = copy.copy(self)
        alone.extras = []
        return alone

    async def issue(self, storage: Storage, req: IssueRequest) -> Issued:
        if self.dpop_jkt is not None and req.dpop_jkt is None:
            req = replace(req, dpop_jkt=self.dpop_jkt)
        ttl = req.client.token_lifetime if req.expiring else None
        now = self.config.clock()
        expires_at = now + timedelta(seconds=ttl) if ttl else None
        if req.not_after is not None and (expires_at is None or req.not_after < expires_at):
            expires_at = req.not_after
            ttl = max(1, int((expires_at - now).total_seconds()))
        if req.client.jwt_access_tokens and expires_at is not None and req.issuer:
            raw = await self._jwt(storage, req, now, expires_at)
        else:
            raw = new_secret(ACCESS_TOKEN_PREFIX)
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
                audience=req.audience,
                act=req.act,
                dpop_jkt=req.dpop_jkt,
            ),
        )
        body: dict[str, Any] = {
            "access_token": raw,
            # RFC 9449 §5: a bound token's type is DPoP (docs/decisions.md §6: bearer otherwise).
            "token_type": "DPoP" if req.dpop_jkt is not None else "bearer",
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

    async def _jwt(self, storage: Storage, req: IssueRequest, now: datetime, expires_at: datetime) -> str:
        """An RFC 9068 access token: ``aud`` is the requested resource, else the resource of
        the host it was obtained at (§2.2 requires an audience)."""
        extra: dict[str, Any] = {}
        if req.space_id is not None and req.user_id is not None:
            role = await storage.space_role(req.space_id, req.user_id)
            if role is not None:
                extra["space"] = role.subdomain
        act = act_claim(req.act)
        if act is not None:
            extra["act"] = act
        if req.dpop_jkt is not None:
            # RFC 9449 §6.1: the confirmation of the key the token is bound to.
            extra["cnf"] = {"jkt": req.dpop_jkt}
        return jwt_access_token(
            await storage.signing_key(),
            issuer=req.issuer,
            audience=req.audience or resource_of(req.issuer),
            # RFC 9068 §2.2: a token without a resource owner names its client.
            subject=req.user_id or req.client.client_id,
            client_id=req.client.client_id,
            scope=format_scope(req.scopes),
            issued_at=now,
            expires_at=expires_at,
            jti=new_id(),
            extra=extra,
        )
