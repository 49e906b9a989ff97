"""OAuth error responses, one class per RFC error code.

* Authorization endpoint: RFC 6749 §4.1.2.1 (sent to the client's redirect URI).
* Token endpoint: RFC 6749 §5.2 (JSON body, 400; ``invalid_client`` 401).
* Protected resources: RFC 6750 §3.1 (``WWW-Authenticate: Bearer`` challenge).
"""

from __future__ import annotations

import math
from typing import ClassVar


def safe_description(text: str) -> str:
    """RFC 6749 §5.2: ``error_description`` uses only %x20-21 / %x23-5B / %x5D-7E; anything
    else (quotes, backslashes, non-ASCII echoed from the request) becomes ``?``."""
    return "".join(c if (" " <= c <= "~" and c not in '"\\') else "?" for c in text)


def wait_in_words(seconds: int) -> str:
    """How long a throttled caller waits, as people say it: 897 → "15 minutes"."""
    for unit, size, up_to in (("minute", 60, 90 * 60), ("hour", 3600, 48 * 3600), ("day", 86400, None)):
        if up_to is None or seconds <= up_to:
            count = max(1, math.ceil(seconds / size))
            return f"{count} {unit}s" if count > 1 else f"a {unit}"
    raise AssertionError("unreachable")


class OAuthError(Exception):
    error: ClassVar[str] = "server_error"
    default_status: ClassVar[int] = 400

    def __init__(
        self,
        description: str | None = None,
        *,
        status_code: int | None = None,
        retry_after: int | None = None,
        persist: bool = False,
    ) -> None:
        super().__init__(description or self.error)
        self.description = description
        # 429 with Retry-After when a rate limit refused the request.
        self.status_code = status_code or self.default_status
        self.retry_after = retry_after
        # The writes staged before the error must be committed all the same: a code burned by
        # a failed redemption, the tokens revoked for a replay, an audit event of the failure.
        self.persist = persist

    def body(self) -> dict[str, str]:
        data = {"error": self.error}
        if self.description:
            data["error_description"] = safe_description(self.description)
        return data


class InvalidRequest(OAuthError):
    error = "invalid_request"


class InvalidClient(OAuthError):
    """RFC 6749 §5.2: 401; ``WWW-Authenticate: Basic`` when the client used Basic."""

    error = "invalid_client"
    default_status = 401

    def __init__(
        self,
        description: str | None = None,
        *,
        used_basic: bool = False,
        status_code: int | None = None,
        retry_after: int | None = None,
        persist: bool = False,
    ) -> None:
        super().__init__(description, status_code=status_code, retry_after=retry_after, persist=persist)
        self.used_basic = used_basic


class InvalidGrant(OAuthError):
    error = "invalid_grant"


class UnauthorizedClient(OAuthError):
    error = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"


class UnsupportedResponseType(OAuthError):
    error = "unsupported_response_type"


class InvalidScope(OAuthError):
    error = "invalid_scope"


class AccessDenied(OAuthError):
    error = "access_denied"
    default_status = 403


class ServerError(OAuthError):
    error = "server_error"
    default_status = 500


class TemporarilyUnavailable(OAuthError):
    error = "temporarily_unavailable"
    default_status = 503


class InvalidToken(OAuthError):
    """RFC 6750 §3.1: the access token is missing its mark (expired, revoked, malformed)."""

    error = "invalid_token"
    default_status = 401


class InsufficientScope(OAuthError):
    """RFC 6750 §3.1: 403 naming the scope that would be needed."""

    error = "insufficient_scope"
    default_status = 403

    def __init__(self, scope: str, description: str | None = None) -> None:
        super().__init__(description or f"this needs the scope {scope}")
        self.scope = scope


class InvalidClientMetadata(OAuthError):
    """RFC 7591 §3.2.2."""

    error = "invalid_client_metadata"


class InvalidRedirectUriMetadata(OAuthError):
    """RFC 7591 §3.2.2."""

    error = "invalid_redirect_uri"


class BadAuthorizationRequest(Exception):
    """An authorization request that must NOT be redirected (RFC 6749 §4.1.2.1, RFC 9700
    §4.11.2): unknown client or unregistered redirect URI. Shown to the person instead."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class LoginRequired(OAuthError):
    """OpenID Connect Core §3.1.2.6: ``prompt=none`` but nobody is logged in."""

    error = "login_required"


class ConsentRequired(OAuthError):
    """OpenID Connect Core §3.1.2.6: ``prompt=none`` but consent would be needed."""

    error = "consent_required"


class RequestNotSupported(OAuthError):
    """OpenID Connect Core §3.1.2.6: a ``request`` object sent to the authorization endpoint
    itself (request objects are accepted only inside a pushed request, oauth/par.py)."""

    error = "request_not_supported"


class InvalidRequestObject(OAuthError):
    """RFC 9101 §6.2, §10.3: a request object that is not signed by the client with an
    accepted algorithm, or whose claims do not hold (issuer, audience, lifetime, client)."""

    error = "invalid_request_object"


class InteractionRequired(OAuthError):
    """OpenID Connect Core §3.1.2.6: ``prompt=none`` but the person has to act first (verify
    their email address, when the operator requires it)."""

    error = "interaction_required"


# ---- RFC 8628 §3.5: the device authorization grant's answers while polling ----------------------


class AuthorizationPending(OAuthError):
    """RFC 8628 §3.5: the person has not approved or denied yet; poll again after the interval."""

    error = "authorization_pending"


class SlowDown(OAuthError):
    """RFC 8628 §3.5: still pending, and the client polled too soon: its interval grows by 5 s."""

    error = "slow_down"


class ExpiredToken(OAuthError):
    """RFC 8628 §3.5: the device code expired; the device starts again."""

    error = "expired_token"
