"""``frontdesk.client``: the library for apps of a Frontdesk (or Cobot-compatible) platform.

OAuth 2 / OpenID Connect for the app (:class:`Client`, :class:`AsyncClient`) and the
platform's API with a token (:class:`ApiClient`, :class:`AsyncApiClient`), on ``httpx``.
Both flavours run one sans-IO implementation, so they behave identically.

>>> from frontdesk.client import Client
>>> client = Client("my-client-id", "my-secret", issuer="http://localhost:8000",
...                 redirect_uri="http://localhost:9000/auth/callback")
>>> client.issuer_for_space("co-up")
'http://co-up.localhost:8000'

The web flow (see docs/client.md for a complete app)::

    pending = client.start_authorization("openid email read_user")   # PKCE, state, nonce
    session["pending"] = pending.to_dict()
    redirect(pending.url)
    ...
    token = client.finish_authorization(PendingAuthorization.from_dict(session.pop("pending")),
                                        callback_url)
    token.id_token_claims["sub"]          # verified
    client.api(token).get_user()
"""

from __future__ import annotations

from frontdesk.client.aio import AsyncApiClient, AsyncClient
from frontdesk.client.config import (
    DEFAULT_USER_AGENT,
    AuthMethod,
    ClientConfig,
    HttpOptions,
    RetryPolicy,
    issuer_for_space,
    normalize_issuer,
)
from frontdesk.client.errors import (
    AccessDenied,
    ApiError,
    AuthorizationError,
    AuthorizationPending,
    CallbackError,
    ConfigurationError,
    ContextError,
    DeviceCodeExpired,
    DiscoveryError,
    Forbidden,
    FrontdeskError,
    IdTokenError,
    InsufficientScope,
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    InvalidToken,
    IssuerMismatch,
    NotFound,
    OAuthError,
    ProtocolError,
    RateLimited,
    ServerError,
    SlowDown,
    StateMismatch,
    TokenValidationError,
    TransportError,
    UnauthorizedClient,
    UnsupportedGrantType,
)
from frontdesk.client.models import (
    AdminRole,
    DeviceAuthorization,
    IframeContext,
    Introspection,
    Membership,
    NavigationLink,
    NavigationLinkSpec,
    PendingAuthorization,
    ServerMetadata,
    Space,
    SpaceToken,
    Token,
    TokenInfo,
    User,
    UserMembership,
)
from frontdesk.client.sync import ApiClient, Client

__all__ = [
    "DEFAULT_USER_AGENT",
    "AccessDenied",
    "AdminRole",
    "ApiClient",
    "ApiError",
    "AsyncApiClient",
    "AsyncClient",
    "AuthMethod",
    "AuthorizationError",
    "AuthorizationPending",
    "CallbackError",
    "Client",
    "ClientConfig",
    "ConfigurationError",
    "ContextError",
    "DeviceAuthorization",
    "DeviceCodeExpired",
    "DiscoveryError",
    "Forbidden",
    "FrontdeskError",
    "HttpOptions",
    "IdTokenError",
    "IframeContext",
    "InsufficientScope",
    "Introspection",
    "InvalidClient",
    "InvalidGrant",
    "InvalidRequest",
    "InvalidScope",
    "InvalidToken",
    "IssuerMismatch",
    "Membership",
    "NavigationLink",
    "NavigationLinkSpec",
    "NotFound",
    "OAuthError",
    "PendingAuthorization",
    "ProtocolError",
    "RateLimited",
    "RetryPolicy",
    "ServerError",
    "ServerMetadata",
    "SlowDown",
    "Space",
    "SpaceToken",
    "StateMismatch",
    "Token",
    "TokenInfo",
    "TokenValidationError",
    "TransportError",
    "UnauthorizedClient",
    "UnsupportedGrantType",
    "User",
    "UserMembership",
    "issuer_for_space",
    "normalize_issuer",
]
