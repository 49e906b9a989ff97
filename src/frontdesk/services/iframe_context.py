"""The signed iframe context, ``frontdesk_context`` (beyond Cobot).

Cobot hands iframes ``cobot_user_id`` and ``cobot_subdomain`` unsigned, so apps cannot trust
them (docs/compatibility.md). Frontdesk adds a short-lived RS256 JWT signed with the OpenID
Connect keys: ``iss`` is the space's issuer (its host's origin, whose ``/jwks.json`` verifies
it), ``aud`` the app's client id, ``sub`` the user, ``role`` their role in the space.

Its header says ``typ: frontdesk-context+jwt`` (RFC 8725 §3.11, the media type
``application/frontdesk-context+jwt`` without its prefix as RFC 7515 §4.1.9 allows), so that
it is never taken for an ID token, which is signed with the same key for the same ``aud``.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from frontdesk.oauth.models import Person
from frontdesk.oauth.oidc import sign
from frontdesk.oauth.storage import KeyStore
from frontdesk.records import NavigationLinkRecord, SpaceRef

CONTEXT_TTL_SECONDS = 300
CONTEXT_TYP = "frontdesk-context+jwt"


def context_claims(
    *,
    issuer: str,
    link: NavigationLinkRecord,
    space: SpaceRef,
    user: Person,
    role: str,
    now: int | None = None,
) -> dict[str, Any]:
    issued = int(time.time()) if now is None else now
    return {
        "iss": issuer,
        "aud": link.app_id,
        "sub": user.id,
        "role": role,
        "space": {"id": space.id, "subdomain": space.subdomain},
        "navigation_link": link.id,
        "iat": issued,
        "exp": issued + CONTEXT_TTL_SECONDS,
        "jti": secrets.token_urlsafe(12),
    }


async def signed_context(storage: KeyStore, **kwargs: Any) -> str:
    """The context JWT; a first signing key, if one had to be made, is staged in the
    caller's unit of work."""
    return sign(await storage.signing_key(), context_claims(**kwargs), typ=CONTEXT_TYP)
