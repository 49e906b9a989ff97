"""Configuration of a Frontdesk client: who the app is, where the platform lives, how to talk.

Issuers
-------
Every host of a Frontdesk platform is its own OAuth issuer: the main site
(``https://www.example.com``), each space's subdomain (``https://co-up.example.com``) and each
space's custom domain (``https://members.harbour.test``). An issuer is an origin —
``scheme://host[:port]`` without path or trailing slash — and is compared *exactly*.

:func:`issuer_for_space` derives a space's issuer from the main issuer with the platform's own
rule (the one Frontdesk uses to serve spaces, and the one ``cobot_client`` uses for Cobot):

* if the main host starts with ``www.``, that first label is replaced by the subdomain
  (``https://www.cobot.me`` → ``https://co-up.cobot.me``);
* otherwise the subdomain is put in front of the main host
  (``http://localhost:8000`` → ``http://co-up.localhost:8000``).

Scheme and port are kept. A custom domain cannot be derived; pass it explicitly wherever an
``issuer`` is accepted (or ask the platform with ``Client.resolve_space_issuer``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

import httpx

from frontdesk import __version__
from frontdesk.client.errors import ConfigurationError

__all__ = [
    "DEFAULT_USER_AGENT",
    "AuthMethod",
    "ClientConfig",
    "HttpOptions",
    "RetryPolicy",
    "issuer_for_space",
    "normalize_issuer",
]

DEFAULT_USER_AGENT = f"frontdesk-client/{__version__}"
AuthMethod = Literal["client_secret_basic", "client_secret_post", "none"]
_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
# RFC 1123 host label; subdomains of spaces are lower-case labels.
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def normalize_issuer(issuer: str) -> str:
    """Check that ``issuer`` is an ``http(s)`` origin and drop a lone trailing slash.

    >>> normalize_issuer("https://www.example.com/")
    'https://www.example.com'
    """
    value = issuer.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"an issuer is an absolute http(s) URL, not {issuer!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigurationError(f"an issuer has no query, fragment or credentials: {issuer!r}")
    if parts.path not in ("", "/"):
        raise ConfigurationError(f"a Frontdesk issuer is an origin without a path: {issuer!r}")
    return f"{parts.scheme}://{parts.netloc}"


def issuer_for_space(main_issuer: str, subdomain: str) -> str:
    """The issuer of the space ``subdomain`` on the platform whose main issuer is given.

    >>> issuer_for_space("http://localhost:8000", "co-up")
    'http://co-up.localhost:8000'
    >>> issuer_for_space("https://www.cobot.me", "co-up")
    'https://co-up.cobot.me'
    """
    label = subdomain.strip().lower()
    if not _LABEL.match(label):
        raise ConfigurationError(f"not a space subdomain: {subdomain!r}")
    parts = urlsplit(normalize_issuer(main_issuer))
    host = parts.hostname or ""
    base = host[4:] if host.startswith("www.") else host
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme}://{label}.{base}{port}"


@dataclass(frozen=True)
class RetryPolicy:
    """When to send a request again.

    Only idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE) are ever retried — never POST
    — after a connection error or timeout, or a ``502``/``503``/``504`` answer, at most
    ``retries`` times, waiting ``backoff * 2**attempt`` seconds (capped at ``max_backoff``).
    A ``Retry-After`` on a ``429`` or ``503`` answer to an idempotent request is honoured
    when it asks for at most ``max_retry_after`` seconds; a longer wait is not slept through:
    the error is raised (:class:`~frontdesk.client.RateLimited` carries ``retry_after``).

    >>> RetryPolicy(retries=0)            # never retry
    RetryPolicy(retries=0, backoff=0.2, max_backoff=5.0, max_retry_after=10.0)
    """

    retries: int = 2
    backoff: float = 0.2
    max_backoff: float = 5.0
    max_retry_after: float = 10.0

    def __post_init__(self) -> None:
        if self.retries < 0 or self.backoff < 0 or self.max_backoff < 0 or self.max_retry_after < 0:
            raise ConfigurationError("retry settings must not be negative")

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt + 1``."""
        return float(min(self.max_backoff, self.backoff * (2**attempt)))


@dataclass(frozen=True)
class HttpOptions:
    """How to talk HTTP: timeout (seconds or an ``httpx.Timeout``), user agent, retries."""

    timeout: float | httpx.Timeout = 10.0
    user_agent: str = DEFAULT_USER_AGENT
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    @property
    def httpx_timeout(self) -> httpx.Timeout:
        return self.timeout if isinstance(self.timeout, httpx.Timeout) else httpx.Timeout(self.timeout)


@dataclass(frozen=True)
class ClientConfig:
    """Everything a client needs to know about the app and the platform.

    ``issuer`` is the platform's main issuer (e.g. ``https://www.example.com``).
    ``client_secret`` is ``None`` for public apps (which then authenticate with PKCE only).
    ``token_endpoint_auth_method`` defaults to ``client_secret_basic`` for apps with a
    secret and ``none`` otherwise. ``leeway`` is the clock skew, in seconds, tolerated when
    checking ``exp``/``iat`` of ID tokens and iframe contexts.

    >>> cfg = ClientConfig(client_id="abc", client_secret="s3cret", issuer="https://www.example.com")
    >>> cfg.auth_method
    'client_secret_basic'
    """

    client_id: str
    issuer: str
    client_secret: str | None = None
    redirect_uri: str | None = None
    token_endpoint_auth_method: AuthMethod | None = None
    timeout: float | httpx.Timeout = 10.0
    user_agent: str = DEFAULT_USER_AGENT
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    leeway: int = 60
    metadata_ttl: float = 3600.0
    jwks_ttl: float = 300.0

    def __post_init__(self) -> None:
        if not self.client_id:
            raise ConfigurationError("client_id is required")
        object.__setattr__(self, "issuer", normalize_issuer(self.issuer))
        method = self.token_endpoint_auth_method
        if method is not None and method not in _AUTH_METHODS:
            raise ConfigurationError(f"token_endpoint_auth_method must be one of {', '.join(_AUTH_METHODS)}")
        if method in ("client_secret_basic", "client_secret_post") and not self.client_secret:
            raise ConfigurationError(f"{method} needs a client_secret")
        if self.leeway < 0:
            raise ConfigurationError("leeway must not be negative")

    @property
    def auth_method(self) -> AuthMethod:
        """The client authentication method actually used at the token endpoint."""
        if self.token_endpoint_auth_method is not None:
            return self.token_endpoint_auth_method
        return "client_secret_basic" if self.client_secret else "none"

    def space_issuer(self, subdomain: str) -> str:
        """:func:`issuer_for_space` for this platform."""
        return issuer_for_space(self.issuer, subdomain)

    @property
    def http(self) -> HttpOptions:
        """The HTTP options (timeout, user agent, retries) of this configuration."""
        return HttpOptions(timeout=self.timeout, user_agent=self.user_agent, retry=self.retry)
