"""OpenID Connect Core 1.0: the ID token in the token response (§3.1.3.3) and the claims that
the ID token and the UserInfo endpoint (§5.3) report.

An ``id_token`` is added whenever the granted scopes include ``openid`` and the grant is one
where a user is present or was present: ``authorization_code`` (§3.1.3.3), ``password``
(Cobot's app flow: the user has just authenticated) and ``refresh_token`` (§12.2: we include
it, with the same ``iss``, ``sub`` and ``aud``, the original ``auth_time`` and no ``nonce``).

Claims (§2, §5.1): ``iss`` is the issuer of the host the user authorized on (a space's origin
on a space host), ``sub`` the user's id, ``aud`` the client id, ``iat``/``exp`` (10 minutes),
``auth_time`` (when the login completed: after the second factor when there was one),
``amr``/``acr`` (how the person logged in, :mod:`frontdesk.oauth.amr`), ``nonce`` (when the
authorization request had one), ``at_hash`` (§3.1.3.6), ``sid`` (the public id of the
browser session the code was issued in, Back-Channel Logout 1.0 §2.4; on refresh too),
``email``/``email_verified`` with scope ``email``, ``name`` with scope ``profile``. On a space
host, ``space`` = ``{"id", "subdomain", "role"}`` with the user's role there (``"admin"``,
``"member"`` or null).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from joserfc import jwt

from frontdesk.oauth import amr
from frontdesk.oauth.config import utcnow
from frontdesk.oauth.models import Person, SpaceRole
from frontdesk.oauth.storage import PersonStore, SigningKeyPair, Storage
from frontdesk.oauth.tokens import Issued

ID_TOKEN_TTL_SECONDS = 600
# RFC 8725 §3.11: every kind of JWT signed with the OpenID Connect keys carries its own ``typ``
# so that no verifier takes one kind for another. ID tokens keep the usual ``JWT``, which is
# what OpenID Connect clients expect; the iframe context has its own (services/iframe_context.py).
ID_TOKEN_TYP = "JWT"
ID_TOKEN_GRANTS = frozenset({"authorization_code", "password", "refresh_token", "device_code"})


def at_hash(access_token: str) -> str:
    """OIDC Core §3.1.3.6: base64url of the left half of SHA-256 (RS256) of the token."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


def user_claims(person: Person, space: SpaceRole | None, scopes: Iterable[str]) -> dict[str, Any]:
    """``sub`` and what the scopes allow (§5.4), plus the space role on a space host."""
    granted = set(scopes)
    claims: dict[str, Any] = {"sub": person.id}
    if "email" in granted:
        claims["email"] = person.email
        claims["email_verified"] = person.email_verified
    if "profile" in granted:
        claims["name"] = person.name
        # §5.1: the person's language, a BCP 47 tag; only when the account has one.
        if person.locale:
            claims["locale"] = person.locale
    if space is not None:
        claims["space"] = {"id": space.id, "subdomain": space.subdomain, "role": space.role}
    return claims


async def claims_for(
    store: PersonStore, user_id: str, space_id: str | None, scopes: Iterable[str]
) -> dict[str, Any] | None:
    """The claims about ``user_id`` (None when the account is gone); ``space`` when
    ``space_id`` names a space that still exists."""
    person = await store.person(user_id)
    if person is None:
        return None
    space = await store.space_role(space_id, user_id) if space_id is not None else None
    return user_claims(person, space, scopes)


def sign(key: SigningKeyPair, claims: dict[str, Any], *, typ: str) -> str:
    """A JWT of the kind ``typ`` (RFC 8725 §3.11): each caller names its own kind."""
    return jwt.encode({"alg": key.alg, "kid": key.kid, "typ": typ}, claims, key.private_key)


class IdTokenExtra:
    """Adds ``id_token`` when the grant carried the ``openid`` scope."""

    def __init__(
        self, ttl_seconds: int = ID_TOKEN_TTL_SECONDS, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.clock = clock

    async def extend(self, issued: Issued, body: dict[str, Any], storage: Storage) -> None:
        req = issued.request
        if "openid" not in req.scopes or req.grant_type not in ID_TOKEN_GRANTS or not req.issuer:
            return
        if req.user_id is None:  # no end-user, no ID token (client_credentials)
            return
        # The space of the host the user authorized on: the code's (user tokens have no
        # space_id), or the token's own space for space tokens.
        space_id = req.auth_space_id or req.space_id
        about = await claims_for(storage, req.user_id, space_id, req.scopes)
        if about is None:
            return
        key = await storage.signing_key()
        iat = int(self.clock().timestamp())
        claims: dict[str, Any] = {
            "iss": req.issuer,
            "aud": req.client.client_id,
            "iat": iat,
            "exp": iat + self.ttl_seconds,
        }
        if req.auth_time is not None:
            claims["auth_time"] = int(req.auth_time.timestamp())
        if req.amr:  # RFC 8176 §1, OpenID Connect Core §2: how the person logged in
            claims["amr"] = list(req.amr)
            claims["acr"] = amr.acr_of(req.amr)
        if req.nonce and req.grant_type != "refresh_token":
            claims["nonce"] = req.nonce
        if req.sid:  # OpenID Connect Back-Channel Logout 1.0 §2.4
            claims["sid"] = req.sid
        claims["at_hash"] = at_hash(issued.raw)
        claims.update(about)
        body["id_token"] = sign(key, claims, typ=ID_TOKEN_TYP)
