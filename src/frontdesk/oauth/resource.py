"""Protected resources: their metadata (RFC 9728), resource indicators (RFC 8707) and JWT
access tokens (RFC 9068).

* **Resources.** Each host of the deployment is one protected resource: its API, identified
  by the host's issuer URL (its origin, no path; docs/decisions.md and
  ../shared/reference/README.md decision 15). The operator may name further resources (the
  platform's own APIs on origins of their own, ``FRONTDESK_EXTRA_RESOURCES``).
* **Resource indicators.** ``resource=<absolute URI>`` at the authorization and token
  endpoints narrows the token's audience to that one resource (RFC 8707 §2). An unknown
  resource, a relative URI, one with a fragment or several resources in one request are
  ``invalid_target`` (§2). A token requested without one keeps working at every host, as
  before. The audience travels with the code, the token and its refresh family; a refresh can
  narrow a family without audience but never move an audience elsewhere (§2.2).
* **JWT access tokens.** An app that opted in gets access tokens as RFC 9068 JWTs: header
  ``typ: at+jwt`` (§2.1; distinct from ID tokens' ``JWT``), signed with the host's signing
  keys, claims ``iss``, ``exp``, ``aud``, ``sub``, ``client_id``, ``iat``, ``jti``, ``scope``
  (§2.2), and ``cnf: {"jkt": …}`` when bound to a DPoP key (RFC 9449 §6.1). They always
  expire (default: one hour). Frontdesk keeps their digest like an opaque
  token's, so revocation, introspection and its own API treat both kinds the same.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from joserfc import jwt

from frontdesk.oauth.dpop import SIGNING_ALGS as DPOP_SIGNING_ALGS
from frontdesk.oauth.errors import OAuthError
from frontdesk.oauth.request import OAuthRequest
from frontdesk.oauth.storage import SigningKeyPair

METADATA_PATH = "/.well-known/oauth-protected-resource"
# RFC 9068 §2.1 (and RFC 8725 §3.11): the type of JWT access tokens, never accepted as another kind.
ACCESS_TOKEN_TYP = "at+jwt"
BEARER_METHODS = ("header", "body", "query")
MAX_RESOURCE_LENGTH = 2000
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")


class InvalidTarget(OAuthError):
    """RFC 8707 §2: the requested resource is invalid, unknown, or not allowed here."""

    error = "invalid_target"


class ResourceRegistry(Protocol):
    """Which resources this deployment serves tokens for."""

    async def known_resource(self, resource: str) -> bool:
        """Is ``resource`` (canonical, see :func:`canonical_resource`) a host's resource URL
        or one the operator configured?"""
        ...

    async def space_of_resource(self, resource: str) -> str | None:
        """The id of the space whose host has ``resource`` (canonical) as its resource URL;
        None for the main host, the operator's resources and unknown ones. Token exchange
        names a space this way (RFC 8693 §2.1 ``resource``, oauth/grants/token_exchange.py)."""
        ...

    async def space_named(self, subdomain: str) -> str | None:
        """The id of the space with this subdomain, or None (RFC 8693 §2.1 ``audience``)."""
        ...


def canonical_resource(value: str) -> str:
    """An absolute URI without fragment (RFC 8707 §2), with scheme and host in lower case and
    an empty or ``/`` path dropped (``https://Example.com/`` is ``https://example.com``), so
    that it compares with a host's issuer URL as a string. Raises :class:`InvalidTarget`."""
    if not value or len(value) > MAX_RESOURCE_LENGTH or not value.isascii() or not value.isprintable():
        raise InvalidTarget("resource must be an absolute URI")
    if " " in value or "#" in value:
        raise InvalidTarget("resource must be an absolute URI without a fragment")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise InvalidTarget("resource must be an absolute URI") from exc
    web = parts.scheme.lower() in ("http", "https")
    if not _SCHEME.fullmatch(parts.scheme) or (web and not parts.netloc) or not (parts.netloc or parts.path):
        raise InvalidTarget("resource must be an absolute URI")
    path = "" if parts.path == "/" else parts.path
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


def resource_of(issuer: str) -> str:
    """A host's protected resource: its issuer URL (an origin without path)."""
    return issuer


async def requested_resource(request: OAuthRequest, values: Sequence[str]) -> str | None:
    """The resource named by the request's ``resource`` parameters, ``values`` (canonical), or
    None. One resource per request: a token has one audience here."""
    if not values:
        return None
    if len(values) > 1:
        raise InvalidTarget("name one resource per request")
    resource = canonical_resource(values[0])
    if resource == resource_of(request.issuer):
        return resource
    registry = request.resources
    if registry is None or not await registry.known_resource(resource):
        raise InvalidTarget("this server issues no tokens for that resource")
    return resource


def narrowed(bound: str | None, requested: str | None) -> str | None:
    """The audience of a token from a grant bound to ``bound`` when ``requested`` is asked
    for (RFC 8707 §2.2): the same resource, or a first narrowing; never another one."""
    if requested is None or requested == bound:
        return bound
    if bound is not None:
        raise InvalidTarget("the grant was made for another resource")
    return requested


def metadata(issuer: str, scopes: list[str]) -> dict[str, Any]:
    """The protected resource metadata of a host (RFC 9728 §2). No
    ``resource_signing_alg_values_supported``: that is for signed *responses* (§2), which
    Frontdesk's API does not send; JWT access tokens are signed by the authorization server
    and verified with its ``jwks_uri``."""
    doc: dict[str, Any] = {
        "resource": resource_of(issuer),
        "authorization_servers": [issuer],
        "scopes_supported": scopes,
        # RFC 6750 §2: header, form body and (as Cobot allows) the access_token query parameter.
        "bearer_methods_supported": list(BEARER_METHODS),
        # RFC 9728 §2, RFC 9449 §7: DPoP-bound tokens are accepted with proofs signed with
        # these algorithms; bearer tokens too (an app may require DPoP for its own tokens).
        "dpop_signing_alg_values_supported": list(DPOP_SIGNING_ALGS),
        "dpop_bound_access_tokens_required": False,
    }
    return doc


def metadata_url(issuer: str) -> str:
    """Where a host's metadata is (RFC 9728 §3.1): advertised in bearer challenges (§5.1)."""
    return issuer + METADATA_PATH


def jwt_access_token(
    key: SigningKeyPair,
    *,
    issuer: str,
    audience: str,
    subject: str,
    client_id: str,
    scope: str,
    issued_at: datetime,
    expires_at: datetime,
    jti: str,
    extra: dict[str, Any] | None = None,
) -> str:
    """An RFC 9068 access token (§2.2 claims), signed with the host's current key."""
    claims: dict[str, Any] = {
        "iss": issuer,
        "exp": int(expires_at.timestamp()),
        "aud": audience,
        "sub": subject,
        "client_id": client_id,
        "iat": int(issued_at.timestamp()),
        "jti": jti,
        "scope": scope,
        **(extra or {}),
    }
    return jwt.encode({"alg": key.alg, "kid": key.kid, "typ": ACCESS_TOKEN_TYP}, claims, key.private_key)
