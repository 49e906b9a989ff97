"""Authorization server metadata (RFC 8414) and OpenID Provider metadata (OpenID Connect
Discovery 1.0 §3), built from an issuer and what the server can do.

Every host is its own issuer (RFC 9700 §2.6, §4.4): the main site, each space subdomain and
each custom domain. The issuer is the host's canonical origin from configuration, never from
a request header, and every endpoint is absolute under it. One document serves both well-known
paths, as Cobot does; RFC 8414 §2 allows the OpenID fields in it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from frontdesk.oauth.amr import ACR_VALUES_SUPPORTED
from frontdesk.oauth.client_keys import SIGNING_ALGORITHMS
from frontdesk.oauth.dpop import SIGNING_ALGS as DPOP_SIGNING_ALGS
from frontdesk.oauth.scopes import Catalogue, catalogue, is_admin_scope

AUTHORIZATION_PATH = "/oauth/authorize"
TOKEN_PATH = "/oauth/access_token"
REVOCATION_PATH = "/oauth/revoke"
INTROSPECTION_PATH = "/oauth/introspect"
# RFC 8628 §3.1 (oauth/device.py), offered when the token endpoint has the device grant.
DEVICE_AUTHORIZATION_PATH = "/oauth/device_authorization"
DEVICE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
REGISTRATION_PATH = "/oauth/register"
# RFC 9126 §5 (oauth/par.py): pushed authorization requests, on every host.
PAR_PATH = "/oauth/par"
# RFC 9101 §10.1, §10.2: request objects (inside PAR) are signed with an asymmetric key; never
# "none", never a MAC. "Ed25519" is the fully specified name of EdDSA on that curve (RFC 9864).
REQUEST_OBJECT_SIGNING_ALGS = ("PS256", "ES256", "RS256", "EdDSA", "Ed25519")
USERINFO_PATH = "/api/userinfo"
JWKS_PATH = "/jwks.json"
# OpenID Connect RP-Initiated Logout 1.0 §2 (web/routes/oauth/logout.py).
LOGOUT_PATH = "/oauth/logout"

OAUTH_METADATA_PATH = "/.well-known/oauth-authorization-server"
OPENID_METADATA_PATH = "/.well-known/openid-configuration"

# private_key_jwt: RFC 7523 §2.2 (oauth/client_assertion.py); client_secret_jwt is not offered.
CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none", "private_key_jwt")
# Claims an ID token or the UserInfo response can carry (OpenID Connect Core §2, §5.1).
CLAIMS = (
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "amr",
    "acr",
    "nonce",
    "at_hash",
    "sid",
    "name",
    "locale",
    "email",
    "email_verified",
)
# On a space's host they also say who the user is in that space.
SPACE_CLAIMS = ("space",)


@dataclass(frozen=True)
class Capabilities:
    """What this server offers, independent of the host asking."""

    grant_types: tuple[str, ...]
    scopes: tuple[str, ...]
    registration: bool = False
    service_documentation: str | None = None
    claims: tuple[str, ...] = CLAIMS
    # FRONTDESK_REQUIRE_PAR: every app must push its authorization requests (RFC 9126 §5).
    require_par: bool = False


def public_scopes(cat: Catalogue | None = None, *, main_host: bool = False) -> tuple[str, ...]:
    """The catalogue without the scopes only trusted apps may hold (not advertised), and only
    those offered on this host (``hosts`` in the scope file); the main host also lists the
    administrative scopes of its admin API (docs/integrating.md)."""
    cat = cat or catalogue()
    return tuple(
        name
        for name, info in cat.scopes.items()
        if (not info.restricted or (main_host and is_admin_scope(name)))
        and info.offered_on(space=not main_host)
    )


def grant_types(registered: Iterable[str], *, password_grant: bool) -> tuple[str, ...]:
    """The token endpoint's grants, without ``password`` when it is switched off globally."""
    return tuple(g for g in registered if password_grant or g != "password")


def build_metadata(issuer: str, caps: Capabilities) -> dict[str, Any]:
    """The metadata document for ``issuer`` (an origin without a trailing slash)."""
    if issuer.endswith("/"):
        raise ValueError("an issuer has no trailing slash (RFC 8414 §2, RFC 9207 §2.4)")

    def url(path: str) -> str:
        return issuer + path

    doc: dict[str, Any] = {
        "issuer": issuer,
        "authorization_endpoint": url(AUTHORIZATION_PATH),
        "token_endpoint": url(TOKEN_PATH),
        "revocation_endpoint": url(REVOCATION_PATH),
        "introspection_endpoint": url(INTROSPECTION_PATH),
    }
    if DEVICE_GRANT_TYPE in caps.grant_types:  # RFC 8628 §4
        doc["device_authorization_endpoint"] = url(DEVICE_AUTHORIZATION_PATH)
    if caps.registration:
        doc["registration_endpoint"] = url(REGISTRATION_PATH)
    methods = list(CLIENT_AUTH_METHODS)
    doc.update(
        {
            "userinfo_endpoint": url(USERINFO_PATH),
            "jwks_uri": url(JWKS_PATH),
            "scopes_supported": list(caps.scopes),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": list(caps.grant_types),
            "token_endpoint_auth_methods_supported": methods,
            "revocation_endpoint_auth_methods_supported": list(methods),
            "introspection_endpoint_auth_methods_supported": list(methods),
            # RFC 8414 §2: the algorithms of private_key_jwt assertions (oauth/client_keys.py).
            "token_endpoint_auth_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
            "revocation_endpoint_auth_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
            "introspection_endpoint_auth_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
            "code_challenge_methods_supported": ["S256"],
            # RFC 9449 §5.1: the algorithms accepted for DPoP proofs (oauth/dpop.py).
            "dpop_signing_alg_values_supported": list(DPOP_SIGNING_ALGS),
            "authorization_response_iss_parameter_supported": True,
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": list(caps.claims),
            # oauth/amr.py: the two classes a login reaches, asked for with acr_values.
            "acr_values_supported": list(ACR_VALUES_SUPPORTED),
            # Said explicitly: OpenID Discovery's default for request_uri_parameter_supported
            # is true, which would be untrue here.
            "claims_parameter_supported": False,
            # Request objects (RFC 9101) are accepted inside pushed requests only: not at the
            # authorization endpoint (request_not_supported), and no request_uri other than
            # the pushed ones (which pushed_authorization_request_endpoint announces).
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,
            "require_signed_request_object": False,
            "request_object_signing_alg_values_supported": list(REQUEST_OBJECT_SIGNING_ALGS),
            # RFC 9126 §5: available to every app on every host (docs/decisions.md §14).
            "pushed_authorization_request_endpoint": url(PAR_PATH),
            "require_pushed_authorization_requests": caps.require_par,
            # OpenID Connect RP-Initiated Logout 1.0 §2.1 and Back-Channel Logout 1.0 §2.1:
            # ID tokens from a browser session carry ``sid``, and so do logout tokens.
            "end_session_endpoint": url(LOGOUT_PATH),
            "backchannel_logout_supported": True,
            "backchannel_logout_session_supported": True,
        }
    )
    if caps.service_documentation:
        doc["service_documentation"] = caps.service_documentation
    return doc
