"""OAuth error responses, one class per RFC error code.

* Authorization endpoint: RFC 6749 §4.1.2.1 (sent to the client's redirect URI).
* Token endpoint: RFC 6749 §5.2 (JSON body, 400; ``invalid_client`` 401).
* Protected resources: RFC 6750 §3.1 (``WWW-Authenticate: Bearer`` challenge).
"""

from __future__ import annotations

from typing import ClassVar


class OAuthError(Exception):
    error: ClassVar[str] = "server_error"
    status_code: ClassVar[int] = 400

    def __init__(self, description: str | None = None) -> None:
        super().__init__(description or self.error)
        self.description = description

    def body(self) -> dict[str, str]:
        data = {"error": self.error}
        if self.description:
            data["error_description"] = self.description
        return data


class InvalidRequest(OAuthError):
    error = "invalid_request"


class InvalidClient(OAuthError):
    """RFC 6749 §5.2: 401; ``WWW-Authenticate: Basic`` when the client used Basic."""

    error = "invalid_client"
    status_code = 401

    def __init__(self, description: str | None = None, *, used_basic: bool = False) -> None:
        super().__init__(description)
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
    status_code = 403


class ServerError(OAuthError):
    error = "server_error"
    status_code = 500


class TemporarilyUnavailable(OAuthError):
    error = "temporarily_unavailable"
    status_code = 503

    def __init__(self, description: str | None = None, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.retry_after = retry_after


class SlowDown(OAuthError):
    """Too many requests (rate limit): 429 with ``Retry-After``; the code follows RFC 8628."""

    error = "slow_down"
    status_code = 429

    def __init__(self, retry_after: int, description: str | None = None) -> None:
        super().__init__(description or f"too many requests; retry in {retry_after} seconds")
        self.retry_after = retry_after


class InvalidToken(OAuthError):
    """RFC 6750 §3.1: the access token is missing its mark (expired, revoked, malformed)."""

    error = "invalid_token"
    status_code = 401


class InsufficientScope(OAuthError):
    """RFC 6750 §3.1: 403 naming the scope that would be needed."""

    error = "insufficient_scope"
    status_code = 403

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
