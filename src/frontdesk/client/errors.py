"""Typed errors. Everything the client raises is a :class:`FrontdeskError`.

::

    FrontdeskError
    ├── ConfigurationError          wrong arguments or settings (also a ValueError)
    ├── TransportError              no answer: connection failed or timed out (after retries)
    ├── ProtocolError               an answer that breaks the protocol (bad JSON, missing fields)
    │   └── DiscoveryError          unusable server metadata
    ├── IssuerMismatch              mix-up defence: metadata or callback names another issuer
    ├── CallbackError               the redirect back to the app cannot be trusted
    │   └── StateMismatch           ``state`` missing or different (CSRF)
    ├── TokenValidationError        a JWT failed verification
    │   ├── IdTokenError            …an ID token
    │   └── ContextError            …a ``frontdesk_context`` (iframe context)
    └── ApiError                    the server answered with an error status
        ├── NotFound                404
        ├── Forbidden               403 that is not an OAuth error
        ├── RateLimited             429 (``retry_after`` seconds)
        ├── ServerError             5xx
        └── OAuthError              an RFC 6749/6750 error (``error``, ``description``, ``status``)
            ├── AuthorizationError  ``error=…`` in the callback (``status`` is None)
            │   └── AccessDenied    the person pressed "Deny"
            ├── InvalidClient / InvalidGrant / InvalidScope / InvalidRequest / …
            ├── AuthorizationPending / SlowDown   a device's poll came too early (RFC 8628 §3.5)
            ├── DeviceCodeExpired   ``expired_token``: the device code expired before a decision
            ├── InvalidToken        401 from the API (expired, revoked, missing)
            └── InsufficientScope   403 naming the missing ``scope``

Example::

    try:
        token = client.finish_authorization(pending, request.url)
    except AccessDenied:
        return "Maybe next time."
    except (StateMismatch, IssuerMismatch):
        return "This login link is not yours; start again."
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

__all__ = [
    "AccessDenied",
    "ApiError",
    "AuthorizationError",
    "AuthorizationPending",
    "CallbackError",
    "ConfigurationError",
    "ContextError",
    "DeviceCodeExpired",
    "DiscoveryError",
    "Forbidden",
    "FrontdeskError",
    "IdTokenError",
    "InsufficientScope",
    "InvalidClient",
    "InvalidGrant",
    "InvalidRequest",
    "InvalidScope",
    "InvalidToken",
    "IssuerMismatch",
    "NotFound",
    "OAuthError",
    "ProtocolError",
    "RateLimited",
    "ServerError",
    "SlowDown",
    "StateMismatch",
    "TokenValidationError",
    "TransportError",
    "UnauthorizedClient",
    "UnsupportedGrantType",
]


class FrontdeskError(Exception):
    """The base of every error this client raises."""


class ConfigurationError(FrontdeskError, ValueError):
    """The client was configured or called wrongly."""


class TransportError(FrontdeskError):
    """The server could not be reached or did not answer in time (after any retries)."""


class ProtocolError(FrontdeskError):
    """The server answered something the protocol does not allow."""


class DiscoveryError(ProtocolError):
    """The server metadata is missing or unusable."""


class IssuerMismatch(FrontdeskError):
    """An issuer other than the expected one answered (RFC 8414 §3.3, RFC 9207 §2.4).

    Raised when discovery metadata names another ``issuer`` than the one asked for, and when
    the ``iss`` of an authorization response differs from the issuer the flow started at (or
    is missing although the server promised it)."""

    def __init__(self, message: str, *, expected: str, actual: str | None) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


class CallbackError(FrontdeskError):
    """The authorization response (the redirect back to the app) is not acceptable."""


class StateMismatch(CallbackError):
    """The ``state`` of the callback is missing or is not the one this flow sent."""


class TokenValidationError(FrontdeskError):
    """A JSON Web Token failed verification (signature, issuer, audience, time, nonce)."""


class IdTokenError(TokenValidationError):
    """An OpenID Connect ID token failed verification."""


class ContextError(TokenValidationError):
    """A ``frontdesk_context`` (the signed iframe context) failed verification."""


class ApiError(FrontdeskError):
    """The server answered with an error status.

    ``status`` is the HTTP status (None for errors that arrived in a redirect), ``error``
    and ``description`` come from the JSON body (``{"error", "error_description"}``) when
    there is one, ``body`` is the parsed body (or text) and ``response`` the raw answer."""

    def __init__(
        self,
        status: int | None,
        error: str | None = None,
        description: str | None = None,
        *,
        body: Any = None,
        response: httpx.Response | None = None,
    ) -> None:
        self.status = status
        self.error = error
        self.description = description
        self.body = body
        self.response = response
        super().__init__(self._message())

    def _message(self) -> str:
        parts = [str(self.status)] if self.status is not None else []
        if self.error:
            parts.append(self.error)
        text = " ".join(parts)
        if self.description:
            text = f"{text}: {self.description}" if text else self.description
        return text or type(self).__name__


class NotFound(ApiError):
    """404: no such resource (or not one this token may see)."""


class Forbidden(ApiError):
    """403 for a reason other than the token's scope (e.g. the user is not a space admin)."""


class RateLimited(ApiError):
    """429: too many requests. ``retry_after`` is the server's wait in seconds, if it said."""

    def __init__(
        self,
        status: int | None,
        error: str | None = None,
        description: str | None = None,
        *,
        retry_after: float | None = None,
        body: Any = None,
        response: httpx.Response | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(status, error, description, body=body, response=response)


class ServerError(ApiError):
    """5xx: the server failed (after any retries)."""


class OAuthError(ApiError):
    """An OAuth error response: RFC 6749 §5.2 (token endpoint), §4.1.2.1 (authorization
    response) or RFC 6750 §3 (``WWW-Authenticate: Bearer`` challenge of the API).

    >>> err = OAuthError("invalid_grant", "the code expired", 400)
    >>> (err.error, err.description, err.status)
    ('invalid_grant', 'the code expired', 400)
    """

    error: str

    def __init__(
        self,
        error: str,
        description: str | None = None,
        status: int | None = None,
        *,
        body: Any = None,
        response: httpx.Response | None = None,
    ) -> None:
        super().__init__(status, error, description, body=body, response=response)


class AuthorizationError(OAuthError):
    """The authorization server sent the person back with ``error=…`` (RFC 6749 §4.1.2.1).

    ``uri`` is the ``error_uri`` if the server sent one."""

    def __init__(self, error: str, description: str | None = None, *, uri: str | None = None) -> None:
        super().__init__(error, description, None)
        self.uri = uri


class AccessDenied(AuthorizationError):
    """The person (or the server) denied the request: ``error=access_denied``."""


class InvalidRequest(OAuthError):
    """``invalid_request``."""


class InvalidClient(OAuthError):
    """``invalid_client``: the app's credentials were refused."""


class InvalidGrant(OAuthError):
    """``invalid_grant``: code, refresh token or password refused (expired, used, wrong)."""


class InvalidScope(OAuthError):
    """``invalid_scope``."""


class UnauthorizedClient(OAuthError):
    """``unauthorized_client``: this app may not use this grant."""


class UnsupportedGrantType(OAuthError):
    """``unsupported_grant_type``."""


class AuthorizationPending(OAuthError):
    """RFC 8628 §3.5 ``authorization_pending``: the person has not decided yet; poll again
    after the interval (:meth:`frontdesk.client.Client.poll_device` does)."""


class SlowDown(OAuthError):
    """RFC 8628 §3.5 ``slow_down``: polled too soon; the interval grows by 5 seconds for this
    and every later poll."""


class DeviceCodeExpired(OAuthError):
    """RFC 8628 §3.5 ``expired_token``: the device code expired before the person approved;
    start again with a new device authorization."""


class InvalidToken(OAuthError):
    """401 from the API: the access token is missing, expired, revoked or unknown."""


class InsufficientScope(OAuthError):
    """403 from the API: the token lacks ``scope``."""

    def __init__(
        self,
        error: str,
        description: str | None = None,
        status: int | None = None,
        *,
        scope: str | None = None,
        body: Any = None,
        response: httpx.Response | None = None,
    ) -> None:
        super().__init__(error, description, status, body=body, response=response)
        self.scope = scope


OAUTH_ERRORS: dict[str, type[OAuthError]] = {
    "invalid_request": InvalidRequest,
    "invalid_client": InvalidClient,
    "invalid_grant": InvalidGrant,
    "invalid_scope": InvalidScope,
    "unauthorized_client": UnauthorizedClient,
    "unsupported_grant_type": UnsupportedGrantType,
    "invalid_token": InvalidToken,
    "authorization_pending": AuthorizationPending,
    "slow_down": SlowDown,
    "expired_token": DeviceCodeExpired,
}
