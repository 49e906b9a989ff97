"""Refresh tokens for apps that opted in to expiring access tokens (RFC 6749 §1.5, §6).

docs/decisions.md §5 and §6: tokens never expire by default, and only an app with an
``access_token_ttl`` gets ``expires_in`` and a ``refresh_token``.

* **Families.** The first token response of an authorization (``authorization_code`` or
  ``password`` grant) starts a *family*: a new family id is given to its access token and to a
  new refresh token. Every refresh continues the family: the presented refresh token is marked
  rotated and a new access token and refresh token join the family (RFC 9700 §4.14.2).
* **Reuse.** Presenting a rotated or revoked refresh token again revokes the whole family, every
  refresh token and every access token in it (see :mod:`frontdesk.oauth.grants.refresh_token`
  for the short grace window).
* **Lifetime.** A family lives :data:`FAMILY_LIFETIME` (30 days) from its start, however often
  it is refreshed: an absolute lifetime, not a sliding one. After that the app has to send the
  person through authorization again. Every refresh token of a family carries the family's end.
* **Scope.** A refresh token always carries the scope of the whole grant; a refresh may ask for
  less for the new access token (§6), and the new refresh token keeps the original scope.

Refresh tokens look like ``fdrt_`` + 256 random bits and are stored as digests only.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from frontdesk.oauth.config import utcnow
from frontdesk.oauth.models import Client
from frontdesk.oauth.storage import NewRefreshToken, RefreshTokenRecord, Storage
from frontdesk.oauth.tokens import Issued
from frontdesk.security.randoms import REFRESH_TOKEN_PREFIX, new_id, new_secret

FAMILY_LIFETIME = timedelta(days=30)
# Grants where a person has just authorized: their token response starts a family.
FAMILY_STARTING_GRANTS = frozenset({"authorization_code", "password", "device_code"})


async def mint_refresh_token(
    storage: Storage,
    issued: Issued,
    *,
    family_id: str,
    scopes: tuple[str, ...],
    expires_at: datetime | None,
    audience: str | None,
) -> str:
    """Store a new refresh token of ``family_id`` beside the access token just issued."""
    raw = new_secret(REFRESH_TOKEN_PREFIX)
    req = issued.request
    # Refresh tokens belong to a person's grant; client_credentials issues none (§4.4.3).
    assert req.user_id is not None, "a refresh token needs a person"
    await storage.save_refresh_token(
        raw,
        NewRefreshToken(
            family_id=family_id,
            client_id=req.client.client_id,
            user_id=req.user_id,
            scopes=scopes,
            access_token_id=issued.token_id,
            space_id=req.space_id,
            issuer=req.issuer or None,
            code_id=req.code_id,
            expires_at=expires_at,
            audience=audience,
            dpop_jkt=refresh_binding(req.client, req.dpop_jkt),
        ),
    )
    return raw


def refresh_binding(client: Client, jkt: str | None) -> str | None:
    """The key a new refresh token is bound to (RFC 9449 §5): a public client's always (it
    has no other sender constraint), a confidential client's only when it must use DPoP
    (``Client.needs_dpop``; otherwise its authentication constrains the refresh token)."""
    return jkt if client.public or client.needs_dpop else None


class RefreshTokenExtra:
    """Adds a ``refresh_token`` to token responses of apps with expiring access tokens, and
    starts the refresh family (the access token just issued is its first member)."""

    def __init__(
        self, lifetime: timedelta | None = FAMILY_LIFETIME, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.lifetime = lifetime
        self.clock = clock

    async def extend(self, issued: Issued, body: dict[str, Any], storage: Storage) -> None:
        req = issued.request
        if not req.client.token_lifetime or req.grant_type not in FAMILY_STARTING_GRANTS:
            return
        family_id = req.family_id or new_id()
        if req.family_id is None:
            await storage.assign_token_family(issued.token_id, family_id)
        expires_at = self.clock() + self.lifetime if self.lifetime is not None else None
        body["refresh_token"] = await mint_refresh_token(
            storage,
            issued,
            family_id=family_id,
            scopes=req.scopes,
            expires_at=expires_at,
            audience=req.audience,
        )


class RotatedRefreshToken:
    """For one refresh (built per request by the refresh grant): the successor of the rotated
    ``previous`` token, with its scope and its family's end. An app that has switched its
    expiring tokens off since gets no new refresh token; its family ends here."""

    def __init__(self, previous: RefreshTokenRecord) -> None:
        self.previous = previous

    async def extend(self, issued: Issued, body: dict[str, Any], storage: Storage) -> None:
        if not issued.request.client.token_lifetime:
            return
        body["refresh_token"] = await mint_refresh_token(
            storage,
            issued,
            family_id=self.previous.family_id,
            scopes=self.previous.scopes,
            expires_at=self.previous.expires_at,
            # The family's audience, even when this refresh narrowed its access token's.
            audience=self.previous.audience,
        )
