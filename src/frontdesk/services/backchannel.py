"""OpenID Connect Back-Channel Logout 1.0: the logout token and its delivery.

The notices are queued in the email outbox when a browser session ends
(store/session_apps.py); the email worker (email_worker.py) signs each with the current
OpenID Connect signing key when it sends it (:func:`logout_token`, §2.4) and POSTs it as
``logout_token`` in a form body (:func:`deliver`, §2.5), with the address checks and the
redirect refusal of webhooks (services/webhooks.py ``checked_addresses``): a destination that
resolves to a private, loopback or link-local address is refused unless
``FRONTDESK_WEBHOOKS_ALLOW_PRIVATE`` allows it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode

from frontdesk.oauth.oidc import sign
from frontdesk.oauth.storage import SigningKeyPair
from frontdesk.security.randoms import new_id
from frontdesk.services.webhooks import Outcome, post_checked

if TYPE_CHECKING:
    import httpx

# §2.4: the one event of a logout token; RFC 8725 §3.11 / §2.4: its own ``typ``.
EVENT: Final = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TYP: Final = "logout+jwt"
# How long a logout token is valid (§2.4 ``exp``): it is signed right before each attempt.
LOGOUT_TOKEN_TTL_SECONDS: Final = 120
USER_AGENT: Final = "Frontdesk-Logout/1"


def logout_token(key: SigningKeyPair, *, iss: str, aud: str, sub: str, sid: str) -> str:
    """A logout token (§2.4): ``iss``, ``aud``, ``iat``, ``exp``, ``jti``, ``events``, ``sub``
    and ``sid``; never a ``nonce``."""
    iat = int(time.time())
    claims: dict[str, Any] = {
        "iss": iss,
        "aud": aud,
        "iat": iat,
        "exp": iat + LOGOUT_TOKEN_TTL_SECONDS,
        "jti": new_id(),
        "events": {EVENT: {}},
        "sub": sub,
        "sid": sid,
    }
    return sign(key, claims, typ=LOGOUT_TOKEN_TYP)


async def deliver(
    client: httpx.AsyncClient, *, url: str, token: str, timeout_seconds: float, allow_private: bool
) -> Outcome:
    """One attempt (§2.5): the token in a form body, POSTed with the address checks of
    webhooks (services/webhooks.post_checked); a 2xx answer is a delivery (§2.8), anything
    else a failure to retry."""
    body = urlencode({"logout_token": token}).encode("ascii")
    headers = {"content-type": "application/x-www-form-urlencoded"}
    return await post_checked(
        client,
        url,
        body,
        headers,
        timeout_seconds=timeout_seconds,
        allow_private=allow_private,
        user_agent=USER_AGENT,
    )
