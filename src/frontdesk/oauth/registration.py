"""Dynamic client registration (RFC 7591): validating the client metadata of a request.

Frontdesk registers *public PKCE clients* dynamically, the profile Cobot advertises:
``token_endpoint_auth_method`` ``none``, ``grant_types`` ``authorization_code`` (and
``refresh_token``), ``response_types`` ``code``; and clients that authenticate with keys
(``token_endpoint_auth_method`` ``private_key_jwt``, RFC 7523 §2.2, with ``jwks`` or
``jwks_uri``), which are confidential but get no secret. Clients with a secret are registered
by a person on the apps page, where their secret can be shown and rotated; ``client_secret_jwt``
is not offered at all.

Omitted values get defaults that fit this profile (RFC 7591 §2 lets the server substitute
values; the response tells the client what was registered). Metadata Frontdesk does not
understand is ignored (§2) and not echoed. Errors are ``invalid_redirect_uri`` and
``invalid_client_metadata`` (§3.2.2).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from frontdesk import names
from frontdesk.oauth.client_keys import KeySetError, clean_key_set
from frontdesk.oauth.errors import InvalidClientMetadata, InvalidRedirectUriMetadata, InvalidScope
from frontdesk.oauth.redirect_uris import RedirectUriError, validate_for_registration
from frontdesk.oauth.scopes import Catalogue, catalogue, check_known, format_scope, parse_scope
from frontdesk.oauth.web_urls import WebUrlError, normalize_web_url

DEFAULT_NAME = "Unnamed app"
DEFAULT_SCOPE = ("openid", "read_user")
MAX_NAME = 100
MAX_REDIRECT_URIS = 50
AUTH_METHOD = "none"
# RFC 7591 §2 methods a client may register here: none (public, PKCE) or keys (RFC 7523).
PRIVATE_KEY_JWT = "private_key_jwt"
AUTH_METHODS = (AUTH_METHOD, PRIVATE_KEY_JWT)
GRANT_TYPES = ("authorization_code", "refresh_token")
RESPONSE_TYPES = ("code",)


@dataclass(frozen=True)
class ClientMetadata:
    """The metadata Frontdesk registers (and echoes in the response, §3.2.1)."""

    redirect_uris: tuple[str, ...]
    client_name: str
    client_uri: str | None
    scope: tuple[str, ...]
    grant_types: tuple[str, ...]
    response_types: tuple[str, ...] = RESPONSE_TYPES
    token_endpoint_auth_method: str = AUTH_METHOD
    # OpenID Connect RP-Initiated Logout 1.0 §3.1 and Back-Channel Logout 1.0 §2.2.
    post_logout_redirect_uris: tuple[str, ...] = ()
    backchannel_logout_uri: str | None = None
    # RFC 9449 §5.2: the client always uses DPoP at the token endpoint (refused without).
    dpop_bound_access_tokens: bool = False
    # RFC 9126 §6: the client only sends pushed authorization requests (refused without).
    require_pushed_authorization_requests: bool = False
    # RFC 7591 §2: the client's public keys, by value (a JWK Set as JSON text) or reference.
    jwks: str | None = None
    jwks_uri: str | None = None

    @property
    def wants_refresh_tokens(self) -> bool:
        return "refresh_token" in self.grant_types

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "client_name": self.client_name,
            "redirect_uris": list(self.redirect_uris),
            "grant_types": list(self.grant_types),
            "response_types": list(self.response_types),
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "scope": format_scope(self.scope),
        }
        if self.client_uri:
            data["client_uri"] = self.client_uri
        if self.post_logout_redirect_uris:
            data["post_logout_redirect_uris"] = list(self.post_logout_redirect_uris)
        if self.backchannel_logout_uri:
            data["backchannel_logout_uri"] = self.backchannel_logout_uri
            # §2.2: Frontdesk always puts ``sid`` into logout tokens.
            data["backchannel_logout_session_required"] = True
        if self.dpop_bound_access_tokens:
            data["dpop_bound_access_tokens"] = True
        if self.require_pushed_authorization_requests:
            data["require_pushed_authorization_requests"] = True
        if self.jwks:
            data["jwks"] = json.loads(self.jwks)
        if self.jwks_uri:
            data["jwks_uri"] = self.jwks_uri
        return data


def _string_list(body: Mapping[str, Any], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidClientMetadata(f"{name} must be an array of strings")
    return tuple(dict.fromkeys(value))


def _optional_string(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidClientMetadata(f"{name} must be a string")
    return value


def _redirect_uris(body: Mapping[str, Any]) -> tuple[str, ...]:
    value = body.get("redirect_uris")
    if value is None or value == []:
        raise InvalidRedirectUriMetadata("redirect_uris is required for the authorization_code grant")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidRedirectUriMetadata("redirect_uris must be an array of strings")
    if len(value) > MAX_REDIRECT_URIS:
        raise InvalidRedirectUriMetadata(f"register at most {MAX_REDIRECT_URIS} redirect URIs")
    result: list[str] = []
    for uri in value:
        try:
            validate_for_registration(uri)
        except RedirectUriError as exc:
            raise InvalidRedirectUriMetadata(f"{uri}: {exc}") from exc
        if uri in result:
            raise InvalidRedirectUriMetadata(f"{uri}: listed twice")
        result.append(uri)
    return tuple(result)


def _post_logout_redirect_uris(body: Mapping[str, Any]) -> tuple[str, ...]:
    uris = _string_list(body, "post_logout_redirect_uris", ())
    if len(uris) > MAX_REDIRECT_URIS:
        raise InvalidClientMetadata(f"register at most {MAX_REDIRECT_URIS} post_logout_redirect_uris")
    for uri in uris:
        try:
            validate_for_registration(uri)
        except RedirectUriError as exc:
            raise InvalidClientMetadata(f"post_logout_redirect_uris: {uri}: {exc}") from exc
    return uris


def _backchannel_logout_uri(body: Mapping[str, Any]) -> str | None:
    url = _optional_string(body, "backchannel_logout_uri")
    if not url:
        return None
    if "#" in url:  # Back-Channel Logout 1.0 §2.2
        raise InvalidClientMetadata("backchannel_logout_uri must not include a fragment")
    try:
        return normalize_web_url(url, allow_http=True)
    except WebUrlError as exc:
        raise InvalidClientMetadata(f"backchannel_logout_uri: {exc}") from exc


def _client_name(body: Mapping[str, Any]) -> str:
    raw = _optional_string(body, "client_name")
    try:
        name = names.clean_name(raw)  # shown on the consent page: no controls, no bidi overrides
    except names.UnsafeName as exc:
        raise InvalidClientMetadata(f"client_name: {exc}") from exc
    if len(name) > MAX_NAME:
        raise InvalidClientMetadata(f"client_name has at most {MAX_NAME} characters")
    return name or DEFAULT_NAME


def _client_uri(body: Mapping[str, Any]) -> str | None:
    url = _optional_string(body, "client_uri")
    if url is None or url == "":
        return None
    try:  # the check every page URL gets (oauth/web_urls.py); stored as it returns it
        return normalize_web_url(url, allow_http=True)
    except WebUrlError as exc:
        raise InvalidClientMetadata(f"client_uri: {exc}") from exc


def _scope(body: Mapping[str, Any], cat: Catalogue, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = _optional_string(body, "scope")
    scopes = parse_scope(raw)
    if not scopes:
        return default
    try:
        check_known(scopes, cat)
    except InvalidScope as exc:
        raise InvalidClientMetadata(exc.description) from exc
    for name in scopes:
        if cat.scopes[name].restricted:
            raise InvalidClientMetadata(f"scope {name!r} cannot be registered dynamically")
    return scopes


def validate_client_metadata(
    body: object,
    *,
    cat: Catalogue | None = None,
    default_scope: tuple[str, ...] = DEFAULT_SCOPE,
    grant_types: tuple[str, ...] = GRANT_TYPES,
) -> ClientMetadata:
    """Check a registration request's JSON body (RFC 7591 §2, §3.1); ``grant_types`` are the
    ones a dynamically registered client may ask for."""
    if not isinstance(body, Mapping):
        raise InvalidClientMetadata("the request body must be a JSON object")
    method = _optional_string(body, "token_endpoint_auth_method") or AUTH_METHOD
    if method == "client_secret_jwt":
        raise InvalidClientMetadata("client_secret_jwt is not offered: register keys with private_key_jwt")
    if method not in AUTH_METHODS:
        raise InvalidClientMetadata(
            f"token_endpoint_auth_method {method!r} is not available: clients register "
            "dynamically as public clients ('none', with PKCE) or with keys ('private_key_jwt')"
        )
    jwks, jwks_uri = _keys(body)
    if method == PRIVATE_KEY_JWT and not (jwks or jwks_uri):
        raise InvalidClientMetadata("private_key_jwt needs the client's public keys: jwks or jwks_uri")
    grants = _string_list(body, "grant_types", ("authorization_code",))
    for grant in grants:
        if grant not in grant_types:
            raise InvalidClientMetadata(
                f"grant_type {grant!r} is not available to dynamically registered clients"
            )
    if "authorization_code" not in grants:
        raise InvalidClientMetadata("grant_types must include authorization_code")
    responses = _string_list(body, "response_types", RESPONSE_TYPES)
    if responses != RESPONSE_TYPES:
        raise InvalidClientMetadata("response_types must be ['code']")
    return ClientMetadata(
        redirect_uris=_redirect_uris(body),
        client_name=_client_name(body),
        client_uri=_client_uri(body),
        scope=_scope(body, cat or catalogue(), default_scope),
        grant_types=grants,
        post_logout_redirect_uris=_post_logout_redirect_uris(body),
        backchannel_logout_uri=_backchannel_logout_uri(body),
        dpop_bound_access_tokens=_flag(body, "dpop_bound_access_tokens"),
        require_pushed_authorization_requests=_flag(body, "require_pushed_authorization_requests"),
        token_endpoint_auth_method=method,
        jwks=jwks,
        jwks_uri=jwks_uri,
    )


def _keys(body: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """``jwks`` (public signing keys only, oauth/client_keys.py) or ``jwks_uri``, not both
    (RFC 7591 §2)."""
    raw = body.get("jwks")
    uri = _optional_string(body, "jwks_uri")
    if raw is not None and uri:
        raise InvalidClientMetadata("send jwks or jwks_uri, not both (RFC 7591 §2)")
    jwks = None
    if raw is not None:
        if not isinstance(raw, Mapping):
            raise InvalidClientMetadata("jwks must be a JWK Set (a JSON object)")
        try:
            jwks = clean_key_set(dict(raw))
        except KeySetError as exc:
            raise InvalidClientMetadata(f"jwks: {exc}") from exc
    if uri:
        if "#" in uri:
            raise InvalidClientMetadata("jwks_uri must not include a fragment")
        try:
            uri = normalize_web_url(uri, allow_http=True)
        except WebUrlError as exc:
            raise InvalidClientMetadata(f"jwks_uri: {exc}") from exc
    return jwks, uri or None


def _flag(body: Mapping[str, Any], name: str) -> bool:
    """A boolean member (absent: false)."""
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise InvalidClientMetadata(f"{name} must be true or false")
    return value
