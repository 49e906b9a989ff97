"""The OAuth / OpenID Connect operations, written once (sans-IO) for both client flavours."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit

import httpx
from joserfc.jwk import RSAKey

from frontdesk.client import _jwt
from frontdesk.client._sansio import (
    Op,
    Sleep,
    build_request,
    error_for,
    expect,
    parse_json,
    request_json,
    send,
)
from frontdesk.client.config import ClientConfig, HttpOptions, normalize_issuer
from frontdesk.client.errors import (
    AccessDenied,
    AuthorizationError,
    AuthorizationPending,
    CallbackError,
    ConfigurationError,
    ContextError,
    DeviceCodeExpired,
    DiscoveryError,
    IdTokenError,
    IssuerMismatch,
    OAuthError,
    ProtocolError,
    SlowDown,
    StateMismatch,
    TokenValidationError,
)
from frontdesk.client.models import (
    DeviceAuthorization,
    IframeContext,
    Introspection,
    PendingAuthorization,
    ServerMetadata,
    Space,
    SpaceToken,
    Token,
)

OPENID_CONFIGURATION = "/.well-known/openid-configuration"
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# RFC 8628 §3.5: every slow_down adds this many seconds to the polling interval.
SLOW_DOWN_STEP = 5
OAUTH_AUTHORIZATION_SERVER = "/.well-known/oauth-authorization-server"
# Parameters start_authorization sets itself; extra_params may not replace them.
RESERVED_PARAMS = frozenset(
    {
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
        "nonce",
    }
)
# Refetch a JWKS for an unknown kid at most this often (a forged kid must not make us hammer it).
JWKS_MIN_REFETCH_SECONDS = 10.0

Scope = str | Iterable[str]
CallbackInput = str | httpx.URL | Mapping[str, str] | Iterable[tuple[str, str]]


def scope_tuple(scope: Scope | None) -> tuple[str, ...]:
    """``"a b"`` or ``["a", "b"]`` as ``("a", "b")`` (order kept, duplicates dropped)."""
    if scope is None:
        return ()
    items = scope.split() if isinstance(scope, str) else [s for part in scope for s in part.split()]
    return tuple(dict.fromkeys(items))


def pkce_pair() -> tuple[str, str]:
    """A code verifier (RFC 7636 §4.1, 86 characters) and its S256 challenge (§4.2)."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def callback_params(callback: CallbackInput) -> dict[str, str]:
    """The parameters of an authorization response, from a URL, a query string or a mapping."""
    pairs: list[tuple[str, str]]
    if isinstance(callback, httpx.URL):
        callback = str(callback)
    if isinstance(callback, str):
        text = callback.strip()
        query = urlsplit(text).query if ("?" in text or "://" in text) else text
        pairs = parse_qsl(query, keep_blank_values=True)
    elif isinstance(callback, Mapping):
        pairs = [(str(k), str(v)) for k, v in callback.items()]
    else:
        pairs = [(str(k), str(v)) for k, v in callback]
    params: dict[str, str] = {}
    for key, value in pairs:
        if key in params:
            raise CallbackError(f"the callback repeats the parameter {key!r}")
        params[key] = value
    return params


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def quote_segment(value: str) -> str:
    return quote(value, safe="")


AnyToken = str | Token | SpaceToken


def raw_token(token: AnyToken) -> str:
    if isinstance(token, Token):
        return token.access_token
    if isinstance(token, SpaceToken):
        return token.token
    return token


def space_token_op(
    http: HttpOptions, base: str, user_token: str, space: str, *, resolve_id: bool, client_id: str | None
) -> Op[SpaceToken]:
    """``POST <main>/api/access_tokens/<token>/space``. Frontdesk takes the space's id or its
    subdomain; Cobot wants the id, which ``resolve_id`` looks up first (public endpoint)."""
    space_ref = space
    if resolve_id:
        url = f"{base}/api/spaces/{quote_segment(space)}"
        space_ref = Space.from_json((yield from request_json(http, build_request(http, "GET", url)))).id
    request = build_request(
        http,
        "POST",
        f"{base}/api/access_tokens/{quote_segment(user_token)}/space",
        json_body={"space_id": space_ref},
        headers={"authorization": f"Bearer {user_token}"},
    )
    result = SpaceToken.from_json((yield from request_json(http, request)), subdomain=space)
    if client_id is not None and result.client_id != client_id:  # the check Cobot's apps make
        raise ProtocolError("the space token belongs to another app")
    return result


class OAuthCore:
    """State shared by both flavours: configuration, metadata and JWKS caches."""

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self.http = config.http
        self._metadata: dict[str, tuple[float, ServerMetadata]] = {}
        self._jwks: dict[str, tuple[float, dict[str | None, RSAKey]]] = {}

    # ---- discovery ----------------------------------------------------------------------------

    def issuer(self, issuer: str | None) -> str:
        return self.config.issuer if issuer is None else normalize_issuer(issuer)

    def discover(self, issuer: str | None = None, *, refresh: bool = False) -> Op[ServerMetadata]:
        """The metadata of ``issuer`` (default: the main issuer), cached for ``metadata_ttl``."""
        expected = self.issuer(issuer)
        cached = self._metadata.get(expected)
        if cached is not None and not refresh and cached[0] > time.monotonic():
            return cached[1]
        data: Any = None
        for path in (OPENID_CONFIGURATION, OAUTH_AUTHORIZATION_SERVER):
            request = build_request(self.http, "GET", expected + path)
            response = yield from send(self.http, request)
            if response.status_code == 404:
                continue
            expect(response)
            data = parse_json(response)
            break
        if data is None:
            raise DiscoveryError(f"{expected} publishes no OAuth or OpenID metadata")
        metadata = ServerMetadata.from_json(data)
        if metadata.issuer != expected:  # RFC 8414 §3.3, OIDC Discovery §4.3
            raise IssuerMismatch(
                f"asked {expected} for its metadata, got the metadata of {metadata.issuer}",
                expected=expected,
                actual=metadata.issuer,
            )
        self._metadata[expected] = (time.monotonic() + self.config.metadata_ttl, metadata)
        return metadata

    def resolve_space_issuer(self, subdomain: str) -> Op[str]:
        """The canonical issuer of a space: its custom domain if it has one, else its subdomain."""
        url = f"{self.config.issuer}/api/spaces/{quote_segment(subdomain)}"
        space = Space.from_json((yield from request_json(self.http, build_request(self.http, "GET", url))))
        return normalize_issuer(space.url) if space.url else self.config.space_issuer(subdomain)

    # ---- the authorization request ------------------------------------------------------------

    def start_authorization(
        self,
        scope: Scope,
        *,
        issuer: str | None = None,
        state: str | None = None,
        pkce: bool = True,
        nonce: str | None = None,
        redirect_uri: str | None = None,
        extra_params: Mapping[str, str] | None = None,
    ) -> Op[PendingAuthorization]:
        scopes = scope_tuple(scope)
        target = redirect_uri or self.config.redirect_uri
        if not target:
            raise ConfigurationError("a redirect_uri is needed (in the configuration or in the call)")
        if not pkce and self.config.auth_method == "none":
            raise ConfigurationError("a public app must use PKCE")
        clash = RESERVED_PARAMS & set(extra_params or {})
        if clash:
            raise ConfigurationError(f"extra_params may not set {', '.join(sorted(clash))}")
        metadata = yield from self.discover(issuer)
        state = state or secrets.token_urlsafe(32)
        if nonce is None and "openid" in scopes:
            nonce = secrets.token_urlsafe(32)
        params: dict[str, str] = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": target,
            "scope": " ".join(scopes),
            "state": state,
        }
        verifier = None
        if pkce:
            methods = metadata.code_challenge_methods_supported
            if methods and "S256" not in methods:
                raise DiscoveryError(f"{metadata.issuer} does not support PKCE with S256")
            verifier, challenge = pkce_pair()
            params.update(code_challenge=challenge, code_challenge_method="S256")
        if nonce is not None:
            params["nonce"] = nonce
        params.update(extra_params or {})
        endpoint = metadata.authorization_endpoint
        url = endpoint + ("&" if "?" in endpoint else "?") + urlencode(params, quote_via=quote)
        return PendingAuthorization(
            url=url,
            state=state,
            code_verifier=verifier,
            nonce=nonce,
            issuer=metadata.issuer,
            redirect_uri=target,
            scope=scopes,
        )

    # ---- the authorization response -----------------------------------------------------------

    def finish_authorization(self, pending: PendingAuthorization, callback: CallbackInput) -> Op[Token]:
        params = callback_params(callback)
        # 1. CSRF: the state must be ours, for errors as well as for codes (RFC 6749 §10.12).
        state = params.get("state")
        if state is None or not _same(state, pending.state):
            raise StateMismatch("the callback's state is missing or belongs to another authorization")
        # 2. Mix-up defence (RFC 9207 §2.4), again before looking at anything else.
        metadata = yield from self.discover(pending.issuer)
        iss = params.get("iss")
        if iss is None:
            if metadata.authorization_response_iss_parameter_supported:
                raise IssuerMismatch(
                    f"{pending.issuer} promises an iss parameter but the callback has none",
                    expected=pending.issuer,
                    actual=None,
                )
        elif iss != pending.issuer:
            raise IssuerMismatch(
                f"the callback comes from {iss}, the authorization was started at {pending.issuer}",
                expected=pending.issuer,
                actual=iss,
            )
        # 3. An error response (RFC 6749 §4.1.2.1).
        if "error" in params:
            cls = AccessDenied if params["error"] == "access_denied" else AuthorizationError
            raise cls(params["error"], params.get("error_description"), uri=params.get("error_uri"))
        code = params.get("code")
        if not code:
            raise CallbackError("the callback has neither code nor error")
        # 4. The code exchange (§4.1.3), at the token endpoint of the issuer that issued it.
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": pending.redirect_uri}
        if pending.code_verifier:
            form["code_verifier"] = pending.code_verifier
        token = yield from self.token_request(metadata, form, requested_scope=pending.scope)
        if token.id_token is None and "openid" in token.scope and pending.nonce is not None:
            raise IdTokenError("scope openid was granted but the token response has no id_token")
        return (yield from self._with_id_token(token, nonce=pending.nonce))

    # ---- the token endpoint -------------------------------------------------------------------

    def client_auth(self, form: dict[str, str]) -> dict[str, str]:
        """Add client authentication to ``form``; returns the headers to send (RFC 6749 §2.3)."""
        cfg = self.config
        method = cfg.auth_method
        if method == "client_secret_basic":
            assert cfg.client_secret is not None
            # §2.3.1: both halves form-urlencoded before base64.
            raw = f"{quote_plus(cfg.client_id, safe='')}:{quote_plus(cfg.client_secret, safe='')}"
            return {"authorization": "Basic " + base64.b64encode(raw.encode()).decode("ascii")}
        form["client_id"] = cfg.client_id
        if method == "client_secret_post":
            assert cfg.client_secret is not None
            form["client_secret"] = cfg.client_secret
        return {}

    def _form_request(self, url: str, form: Mapping[str, str]) -> httpx.Request:
        body = dict(form)
        headers = self.client_auth(body)
        return build_request(self.http, "POST", url, data=body, headers=headers)

    def _post_form(self, url: str, form: Mapping[str, str]) -> Op[httpx.Response]:
        """POST an authenticated form to an OAuth endpoint; anything but 200 is its error."""
        response = yield from send(self.http, self._form_request(url, form))
        if response.status_code != 200:
            raise error_for(response, oauth_endpoint=True)
        return response

    def token_request(
        self, metadata: ServerMetadata, form: Mapping[str, str], *, requested_scope: Iterable[str] = ()
    ) -> Op[Token]:
        response = yield from self._post_form(metadata.token_endpoint, form)
        return Token.from_response(
            parse_json(response), requested_scope=requested_scope, issuer=metadata.issuer
        )

    def _with_id_token(
        self, token: Token, *, nonce: str | None, previous: Mapping[str, Any] | None = None
    ) -> Op[Token]:
        if token.id_token is None:
            return token
        assert token.issuer is not None
        claims = yield from self.verify_id_token(
            token.id_token, issuer=token.issuer, nonce=nonce, access_token=token.access_token
        )
        if previous is not None and (claims.get("sub") != previous.get("sub")):
            raise IdTokenError("the refreshed ID token is about another user (OIDC Core §12.2)")
        return dataclasses.replace(token, id_token_claims=claims)

    def password_grant(
        self, username: str, password: str, scope: Scope, *, issuer: str | None = None
    ) -> Op[Token]:
        metadata = yield from self.discover(issuer)
        scopes = scope_tuple(scope)
        form = {
            "grant_type": "password",
            "username": username,
            "password": password,
            "scope": " ".join(scopes),
        }
        token = yield from self.token_request(metadata, form, requested_scope=scopes)
        return (yield from self._with_id_token(token, nonce=None))

    # ---- the device authorization grant (RFC 8628) -------------------------------------------

    def device_authorization(
        self, scope: Scope | None = None, *, issuer: str | None = None
    ) -> Op[DeviceAuthorization]:
        """Ask for a device code and a user code (§3.1); on a space's issuer, for that space."""
        metadata = yield from self.discover(issuer)
        endpoint = metadata.device_authorization_endpoint
        if endpoint is None:
            raise DiscoveryError(f"{metadata.issuer} has no device authorization endpoint")
        scopes = scope_tuple(scope)
        form = {"scope": " ".join(scopes)} if scopes else {}
        response = yield from self._post_form(endpoint, form)
        return DeviceAuthorization.from_response(parse_json(response), issuer=metadata.issuer, scope=scopes)

    def poll_device(self, authorization: DeviceAuthorization) -> Op[Token]:
        """Poll the token endpoint (§3.4) every ``interval`` seconds until the person decides:
        ``authorization_pending`` waits on, ``slow_down`` adds 5 s to the interval for good
        (§3.5); the token once approved; :class:`AccessDenied` once denied;
        :class:`DeviceCodeExpired` when the code's ``expires_in`` has passed (counted by the
        waits, without asking the server again) or the server says ``expired_token``."""
        metadata = yield from self.discover(authorization.issuer)
        form = {"grant_type": DEVICE_CODE_GRANT, "device_code": authorization.device_code}
        interval = max(1, authorization.interval)
        waited = 0
        while True:
            if waited + interval > authorization.expires_in:
                raise DeviceCodeExpired("expired_token", "the device code expired before the person decided")
            yield Sleep(interval)
            waited += interval
            try:
                token = yield from self.token_request(metadata, form, requested_scope=authorization.scope)
            except AuthorizationPending:
                continue
            except SlowDown:
                interval += SLOW_DOWN_STEP
                continue
            except OAuthError as exc:
                if exc.error == "access_denied":
                    raise AccessDenied("access_denied", exc.description) from exc
                raise
            return (yield from self._with_id_token(token, nonce=None))

    def refresh(
        self, token: Token | str, *, scope: Scope | None = None, issuer: str | None = None
    ) -> Op[Token]:
        if isinstance(token, Token):
            refresh_token = token.refresh_token
            issuer = issuer or token.issuer
            old_scope = token.scope
            previous = token.id_token_claims
        else:
            refresh_token, old_scope, previous = token, (), None
        if not refresh_token:
            raise ConfigurationError("this token has no refresh_token (the app does not use expiring tokens)")
        metadata = yield from self.discover(issuer)
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        scopes = scope_tuple(scope)
        if scopes:
            form["scope"] = " ".join(scopes)
        new = yield from self.token_request(metadata, form, requested_scope=scopes or old_scope)
        if new.refresh_token is None:  # RFC 6749 §6: no new refresh token means keep the old one
            new = dataclasses.replace(new, refresh_token=refresh_token)
        return (yield from self._with_id_token(new, nonce=None, previous=previous))

    def revoke(
        self,
        token: Token | SpaceToken | str,
        token_type_hint: str | None = None,
        *,
        issuer: str | None = None,
    ) -> Op[None]:
        value = raw_token(token)
        if isinstance(token, Token) and token_type_hint == "refresh_token":
            if not token.refresh_token:
                raise ConfigurationError("this token has no refresh_token")
            value = token.refresh_token
        metadata = yield from self.discover(issuer)
        if metadata.revocation_endpoint is None:
            # Cobot's API 1 way (no RFC 7009 endpoint advertised): DELETE /api/access_tokens/<t>.
            url = f"{metadata.issuer}/api/access_tokens/{quote_segment(value)}"
            request = build_request(self.http, "DELETE", url, headers={"authorization": f"Bearer {value}"})
            response = yield from send(self.http, request)
            if response.status_code in (200, 204, 401, 404):  # gone already counts as revoked
                return None
            raise error_for(response)
        form = {"token": value}
        if token_type_hint:
            form["token_type_hint"] = token_type_hint
        yield from self._post_form(metadata.revocation_endpoint, form)  # RFC 7009 §2.2: 200 even if unknown
        return None

    def introspect(
        self, token: str, token_type_hint: str | None = None, *, issuer: str | None = None
    ) -> Op[Introspection]:
        metadata = yield from self.discover(issuer)
        if metadata.introspection_endpoint is None:
            raise DiscoveryError(f"{metadata.issuer} has no introspection endpoint")
        form = {"token": token}
        if token_type_hint:
            form["token_type_hint"] = token_type_hint
        response = yield from self._post_form(metadata.introspection_endpoint, form)
        return Introspection.from_json(parse_json(response))

    # ---- space tokens (API 1, main host) ------------------------------------------------------

    def space_token(self, user_token: Token | str, space: str, *, resolve_id: bool = False) -> Op[SpaceToken]:
        raw = raw_token(user_token)
        return (
            yield from space_token_op(
                self.http,
                self.config.issuer,
                raw,
                space,
                resolve_id=resolve_id,
                client_id=self.config.client_id,
            )
        )

    # ---- JWT verification ---------------------------------------------------------------------

    def signing_key(self, issuer: str, kid: Any, error: type[TokenValidationError]) -> Op[RSAKey]:
        """The issuer's key with this ``kid`` from its JWKS (refetched on an unknown kid)."""
        metadata = yield from self.discover(issuer)
        if metadata.jwks_uri is None:
            raise DiscoveryError(f"{issuer} publishes no jwks_uri")
        uri = metadata.jwks_uri
        now = time.monotonic()
        cached = self._jwks.get(uri)
        if cached is not None and now - cached[0] < self.config.jwks_ttl:
            key = _jwt.pick_key(cached[1], kid)
            # An unknown kid refetches, but not more often than JWKS_MIN_REFETCH_SECONDS.
            if key is not None or now - cached[0] < JWKS_MIN_REFETCH_SECONDS:
                return _known(key, kid, issuer, error)
        data = yield from request_json(self.http, build_request(self.http, "GET", uri))
        try:
            keys = _jwt.import_keys(data)
        except TokenValidationError as exc:
            raise DiscoveryError(f"{uri}: {exc}") from exc
        self._jwks[uri] = (now, keys)
        return _known(_jwt.pick_key(keys, kid), kid, issuer, error)

    def verify_id_token(
        self,
        id_token: str,
        *,
        issuer: str,
        nonce: str | None = None,
        access_token: str | None = None,
    ) -> Op[dict[str, Any]]:
        expected = normalize_issuer(issuer)
        header, _ = _jwt.unverified_parts(id_token, IdTokenError)
        _jwt.check_id_token_type(header, IdTokenError)
        key = yield from self.signing_key(expected, header.get("kid"), IdTokenError)
        claims = _jwt.verify_signature(id_token, key, IdTokenError)
        _jwt.check_id_token_kind(claims, IdTokenError)
        _jwt.check_common(
            claims,
            issuers=(expected,),
            audience=self.config.client_id,
            now=time.time(),
            leeway=self.config.leeway,
            error=IdTokenError,
        )
        _jwt.check_id_token(claims, nonce=nonce, access_token=access_token, error=IdTokenError)
        return claims

    def verify_context(
        self, context: str, *, issuer: str | Sequence[str], subdomain: str | None = None
    ) -> Op[IframeContext]:
        issuers = tuple(normalize_issuer(i) for i in ([issuer] if isinstance(issuer, str) else issuer))
        if not issuers:
            raise ConfigurationError("name at least one issuer the context may come from")
        header, unverified = _jwt.unverified_parts(context, ContextError)
        _jwt.check_context_type(header, ContextError)
        claimed = unverified.get("iss")
        if claimed not in issuers:  # pick the JWKS only from an issuer we were told to trust
            raise ContextError(f"the context was issued by {claimed!r}, not by {' or '.join(issuers)}")
        key = yield from self.signing_key(str(claimed), header.get("kid"), ContextError)
        claims = _jwt.verify_signature(context, key, ContextError)
        now = time.time()
        _jwt.check_common(
            claims,
            issuers=issuers,
            audience=self.config.client_id,
            now=now,
            leeway=self.config.leeway,
            error=ContextError,
        )
        space = claims.get("space")
        sub, role = claims.get("sub"), claims.get("role")
        if (
            not isinstance(space, Mapping)
            or not isinstance(space.get("id"), str)
            or not isinstance(space.get("subdomain"), str)
        ):
            raise ContextError("the context names no space")
        if not isinstance(sub, str) or not sub:
            raise ContextError("the context names no user")
        if role not in ("admin", "member"):
            raise ContextError(f"the context has an unknown role {role!r}")
        if subdomain is not None and space["subdomain"] != subdomain:
            raise ContextError(f"the context is for the space {space['subdomain']!r}, not {subdomain!r}")
        return IframeContext(
            issuer=str(claims["iss"]),
            client_id=self.config.client_id,
            user_id=sub,
            role=str(role),
            space_id=str(space["id"]),
            space_subdomain=str(space["subdomain"]),
            issued_at=datetime.fromtimestamp(float(claims["iat"]), UTC),
            expires_at=datetime.fromtimestamp(float(claims["exp"]), UTC),
            navigation_link_id=link if isinstance(link := claims.get("navigation_link"), str) else None,
            claims=claims,
        )


__all__ = [
    "CallbackInput",
    "OAuthCore",
    "Scope",
    "callback_params",
    "pkce_pair",
    "scope_tuple",
    "space_token_op",
]


def _known(key: RSAKey | None, kid: Any, issuer: str, error: type[TokenValidationError]) -> RSAKey:
    if key is None:
        raise error(f"no key {kid!r} in the JWKS of {issuer}")
    return key
