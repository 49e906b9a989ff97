"""Token introspection, RFC 7662.

``POST /oauth/introspect`` with ``token`` and an optional ``token_type_hint``. The caller is
an authenticated client (§2.1; as at the token endpoint, with the same limit on failures).
An app may introspect its own tokens; an app marked ``can_introspect`` (a resource server,
set through the CLI or a seed file) may introspect any token. For anything else the answer is
``{"active": false}``, exactly as for unknown, revoked, rotated or expired tokens (§2.2), so
an app learns nothing about tokens that are not its business.

An active token is described by (§2.2):

* ``active`` (true), ``scope`` (space-separated), ``client_id``;
* ``sub`` (the user's id) and ``username`` (the user's email); for a space token, the person
  it acts for now (its creator while an admin of the space, else the space's owner); for a
  client_credentials token (no person), ``sub`` is the client id and there is no ``username``;
* ``token_type``: ``"bearer"`` for access tokens, ``"refresh_token"`` for refresh tokens;
* ``iat``; ``exp`` only for tokens that expire; ``iss``, the issuer (host) the token was
  obtained at, when it is known;
* ``space``: for a *space token*, the subdomain of the one space it reaches. User tokens have
  no ``space`` member at all (they reach every space their user belongs to);
* ``aud``: the resource the token was requested for (RFC 8707 §2, RFC 7662 §2.2), only when
  one was (a token without it is good at every host);
* ``act``: for a token issued by token exchange with an actor token, who acts for the subject
  (RFC 8693 §4.1, nested for prior actors; oauth/delegation.py);
* ``cnf``: ``{"jkt": …}`` for a token bound to a DPoP key, whose ``token_type`` is then
  ``DPoP`` (RFC 9449 §6.2).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from frontdesk.oauth.client_assertion import ClientAssertions
from frontdesk.oauth.client_auth import authenticate_client
from frontdesk.oauth.config import OAuthConfig
from frontdesk.oauth.delegation import act_claim
from frontdesk.oauth.errors import InvalidRequest
from frontdesk.oauth.models import TokenInfo
from frontdesk.oauth.request import OAuthRequest, token_params
from frontdesk.oauth.revocation import find_token
from frontdesk.oauth.scopes import format_scope
from frontdesk.oauth.storage import Limiter, RefreshTokenRecord, Storage

INACTIVE: dict[str, Any] = {"active": False}


def _timestamp(moment: datetime) -> int:
    return int(moment.timestamp())


def _live(token: TokenInfo | RefreshTokenRecord, now: datetime) -> bool:
    if isinstance(token, RefreshTokenRecord):
        return token.active(now)
    return not token.revoked and (token.expires_at is None or token.expires_at > now)


def _token_type(token: TokenInfo | RefreshTokenRecord) -> str:
    """RFC 7662 §2.2 ``token_type``: ``DPoP`` for a bound access token (RFC 9449 §6.2)."""
    if isinstance(token, RefreshTokenRecord):
        return "refresh_token"
    return "DPoP" if token.dpop_jkt is not None else "bearer"


class IntrospectionEndpoint:
    def __init__(
        self,
        config: OAuthConfig,
        *,
        client_limiter: Limiter | None = None,
        client_assertions: ClientAssertions | None = None,
    ) -> None:
        self.config = config
        self.client_limiter = client_limiter
        # private_key_jwt (RFC 7523 §2.2; oauth/client_assertion.py).
        self.client_assertions = client_assertions

    async def handle(self, request: OAuthRequest, storage: Storage) -> dict[str, Any]:
        """The introspection response body (§2.2)."""
        if request.method != "POST":
            raise InvalidRequest("the introspection endpoint accepts POST only")
        params = token_params(request, strict=self.config.strict)
        client = await authenticate_client(
            request, params, storage, self.client_limiter, self.client_assertions
        )
        raw = params.get("token")
        if raw is None:
            raise InvalidRequest("missing parameter 'token'")
        token = await find_token(storage, raw, params.get("token_type_hint"))
        if token is None or not _live(token, self.config.clock()):
            return dict(INACTIVE)
        if token.client_id != client.client_id and not client.can_introspect:
            return dict(INACTIVE)
        if token.user_id is None:
            # A client_credentials token acts for no person: `sub` names the client itself
            # (as RFC 9068 §2.2 does for such tokens) and there is no `username`.
            who: dict[str, Any] = {"sub": token.client_id}
        else:
            if isinstance(token, TokenInfo) and token.space_id is not None:
                # A space token acts for its creator while she is an admin of the space, then
                # for the space's owner (PersonStore.acting_person): `sub` is who it acts for now.
                user = await storage.acting_person(token)
            else:
                user = await storage.person(token.user_id)
            if user is None:
                return dict(INACTIVE)
            who = {"sub": user.id, "username": user.email}
        body: dict[str, Any] = {
            "active": True,
            "scope": format_scope(token.scopes),
            "client_id": token.client_id,
            **who,
            "token_type": _token_type(token),
            "iat": _timestamp(token.created_at),
        }
        if token.expires_at is not None:
            body["exp"] = _timestamp(token.expires_at)
        if token.issuer:
            body["iss"] = token.issuer
        if token.audience:
            body["aud"] = token.audience
        if token.dpop_jkt is not None:
            # RFC 9449 §6.2: the key a bound token (or refresh token) is bound to.
            body["cnf"] = {"jkt": token.dpop_jkt}
        if isinstance(token, TokenInfo):
            act = act_claim(token.act)
            if act is not None:
                body["act"] = act
        if token.space_id is not None and token.user_id is not None:
            space = await storage.space_role(token.space_id, token.user_id)
            if space is None:  # the space is gone
                return dict(INACTIVE)
            body["space"] = space.subdomain
        return body
