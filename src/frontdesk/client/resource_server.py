"""A resource server's side: accept Frontdesk's access tokens at your own API.

:class:`ResourceServer` (blocking) and :class:`AsyncResourceServer` (asyncio) validate the
bearer token of a request (RFC 6750 §2), check its scopes and its space, and answer with a
:class:`Principal` or raise a :class:`Challenge` that carries the RFC 6750 §3 answer (status,
``WWW-Authenticate`` value, JSON body). Both run the same sans-IO core.

Two ways to validate, chosen per token:

* **JWT access tokens** (RFC 9068; apps with ``--jwt-access-tokens``): verified locally with
  the issuer's JWKS: ``typ`` must be ``at+jwt`` (§4: an ID token or another JWT is refused),
  RS256 signature, ``iss`` one of the trusted issuers, ``aud`` this resource, ``exp``/``iat``.
  No call to Frontdesk, so a revocation reaches you only when the token expires (an hour by
  default); use introspection where that matters (``jwt=False``).
* **Introspection** (RFC 7662) for opaque tokens (and JWTs when ``jwt=False``): the resource
  server is a Frontdesk app registered with ``--can-introspect``; answers are cached for
  ``cache_ttl`` seconds (default 30), never beyond the token's ``exp``.

DPoP (RFC 9449): a token bound to a key (``cnf.jkt`` in the JWT or the introspection answer)
is accepted only through :meth:`ResourceServer.authenticate_request` given the request's
``DPoP`` header, method and URL, sent as ``Authorization: DPoP <token>`` with a valid proof of
that key (``typ``, ``alg``, signature, ``htm``, ``htu``, ``iat`` within ``dpop_max_age``,
``ath``, a ``jti`` not seen before in this process: :mod:`frontdesk.client._dpop`). Sent as a
bearer token, or through :meth:`ResourceServer.authenticate` (no request to check the proof
against), it is refused with a ``DPoP`` challenge; an unbound token with the DPoP scheme too.
The Starlette adapter passes the proof; the Flask and Django adapters do not, so they refuse
bound tokens.

Audience (RFC 8707): a token requested for this resource (``aud`` is ``resource``) is
accepted; a token for another resource is ``invalid_token``. A token requested for no
resource (introspection shows no ``aud``; a JWT's ``aud`` is then its issuer) is accepted
unless ``require_audience=True``.

Framework adapters (importing their framework only when used):
:mod:`frontdesk.client.adapters.starlette` (Starlette and FastAPI),
:mod:`frontdesk.client.adapters.flask`, :mod:`frontdesk.client.adapters.django`.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from frontdesk.client import _dpop, _jwt
from frontdesk.client._drivers import AsyncDriver, SyncDriver
from frontdesk.client._oauth import OAuthCore
from frontdesk.client._sansio import Op
from frontdesk.client.config import ClientConfig, RetryPolicy, normalize_issuer
from frontdesk.client.errors import ConfigurationError, FrontdeskError, TokenValidationError

ACCESS_TOKEN_TYPE = "at+jwt"
METADATA_PATH = "/.well-known/oauth-protected-resource"
# RFC 6750 §2.1 b64token.
_B64TOKEN = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")
_PLACEHOLDER_CLIENT = "resource-server"


class AccessTokenError(TokenValidationError):
    """A JWT access token failed a check (RFC 9068 §4)."""


# ---- what comes out ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    """Who a valid token acts for, and what it allows."""

    subject: str
    client_id: str
    scopes: frozenset[str]
    issuer: str
    # The space a *space token* is bound to (its subdomain); None for user tokens, which reach
    # every space their user is a member of (check membership yourself).
    space: str | None = None
    audience: str | None = None
    expires_at: datetime | None = None
    # "jwt" or "introspection": how the token was validated.
    validated_by: str = "introspection"
    # RFC 9449 §6: the thumbprint of the key the token is bound to (None: a bearer token).
    dpop_jkt: str | None = None
    claims: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _safe(text: str) -> str:
    """RFC 6750 §3: error_description is %x20-21 / %x23-5B / %x5D-7E."""
    return "".join(c if (" " <= c <= "~" and c not in '"\\') else "?" for c in text)


class Challenge(FrontdeskError):
    """The request is refused: answer with :attr:`status`, :attr:`headers` and :meth:`body`
    (RFC 6750 §3). ``error`` is None when no token was sent at all (§3.1: no error code)."""

    def __init__(
        self,
        status: int,
        error: str | None,
        description: str | None = None,
        *,
        realm: str = "",
        scope: str | None = None,
        resource_metadata: str | None = None,
        dpop: bool = False,
    ) -> None:
        super().__init__(description or error or "a bearer token is required")
        # RFC 9449 §7.1: a DPoP challenge (with ``algs``) instead of a Bearer one.
        self.dpop = dpop
        self.status = status
        self.error = error
        self.description = description
        self.realm = realm
        self.scope = scope
        self.resource_metadata = resource_metadata

    @property
    def www_authenticate(self) -> str:
        parts = []
        if self.realm:
            parts.append(f"realm={_quote(self.realm)}")
        if self.resource_metadata:
            parts.append(f"resource_metadata={_quote(self.resource_metadata)}")  # RFC 9728 §5.1
        if self.error:
            parts.append(f"error={_quote(self.error)}")
            if self.description:
                parts.append(f"error_description={_quote(_safe(self.description))}")
        if self.scope:
            parts.append(f"scope={_quote(self.scope)}")
        if self.dpop:
            parts.append(f"algs={_quote(' '.join(_dpop.SIGNING_ALGS))}")
        scheme = _dpop.SCHEME if self.dpop else "Bearer"
        return f"{scheme} " + ", ".join(parts) if parts else scheme

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": self.www_authenticate, "Cache-Control": "no-store"}

    def body(self) -> dict[str, str]:
        data = {"error": self.error or "unauthorized"}
        if self.description:
            data["error_description"] = _safe(self.description)
        return data


# ---- finding the token in a request -----------------------------------------------------------


def bearer_token(
    authorization: str | None,
    query: Iterable[tuple[str, str]] = (),
    form: Iterable[tuple[str, str]] = (),
    *,
    allow_query: bool = True,
) -> str | None:
    """The token of a request (RFC 6750 §2): ``Authorization: Bearer``, the ``access_token``
    form field or (unless ``allow_query`` is off) query parameter; more than one is
    ``invalid_request`` (§2). Raises :class:`Challenge`."""
    found: list[str] = []
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        # RFC 9449 §7.1: the DPoP scheme carries the token the same way.
        if scheme.lower() in ("bearer", "dpop"):
            value = value.strip()
            if not _B64TOKEN.match(value):
                raise Challenge(400, "invalid_request", "malformed Authorization header")
            found.append(value)
    if allow_query:
        found += [v for k, v in query if k == "access_token"]
    found += [v for k, v in form if k == "access_token"]
    if len(found) > 1:
        raise Challenge(400, "invalid_request", "send the access token one way only")
    if found and not found[0]:
        raise Challenge(400, "invalid_request", "empty access_token")
    return found[0] if found else None


# ---- the sans-IO core ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceServerConfig:
    """``issuer``: the Frontdesk issuer tokens come from (its main host); ``issuers``: every
    issuer to trust (default: ``issuer`` only; add space hosts whose tokens you take).
    ``resource``: this API's resource identifier (RFC 8707), e.g. ``https://api.example.com``;
    it is also the challenge's ``realm``. ``client_id``/``client_secret``: this resource
    server's Frontdesk app (registered with ``--can-introspect``), needed for introspection."""

    issuer: str
    resource: str
    client_id: str | None = None
    client_secret: str | None = None
    issuers: tuple[str, ...] = ()
    jwt: bool = True
    introspection: bool = True
    require_audience: bool = False
    allow_query: bool = True
    cache_ttl: float = 30.0
    cache_size: int = 10_000
    leeway: int = 60
    # RFC 9449 §4.3: how far a DPoP proof's iat may be from now, in seconds.
    dpop_max_age: float = 300.0
    resource_metadata: str | None = None
    timeout: float | httpx.Timeout = 10.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        object.__setattr__(self, "issuer", normalize_issuer(self.issuer))
        trusted = tuple(normalize_issuer(i) for i in self.issuers) or (self.issuer,)
        object.__setattr__(self, "issuers", trusted)
        object.__setattr__(
            self, "resource", self.resource.rstrip("/") if "://" in self.resource else self.resource
        )
        if self.introspection and not (self.client_id and self.client_secret):
            raise ConfigurationError("introspection needs this resource server's client_id and client_secret")
        if not (self.jwt or self.introspection):
            raise ConfigurationError("enable JWT validation, introspection or both")
        if self.cache_ttl < 0 or self.cache_size < 0:
            raise ConfigurationError("cache settings must not be negative")

    def client_config(self) -> ClientConfig:
        return ClientConfig(
            client_id=self.client_id or _PLACEHOLDER_CLIENT,
            client_secret=self.client_secret,
            issuer=self.issuer,
            timeout=self.timeout,
            retry=self.retry,
            leeway=self.leeway,
        )


def _looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2


def _audiences(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(float(value), UTC)


class ResourceServerCore:
    """The checks, written once; the shells run them with a driver."""

    def __init__(self, config: ResourceServerConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.oauth = OAuthCore(config.client_config())
        self.clock = clock
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        # DPoP proofs' jti, once each (RFC 9449 §11.1), in this process.
        self.seen_proofs = _dpop.SeenProofs(clock)

    # ---- challenges -----------------------------------------------------------------------

    def challenge(
        self, status: int, error: str | None, description: str | None = None, **kw: Any
    ) -> Challenge:
        return Challenge(
            status,
            error,
            description,
            realm=self.config.resource,
            resource_metadata=self.config.resource_metadata,
            **kw,
        )

    def _invalid(self, description: str) -> Challenge:
        return self.challenge(401, "invalid_token", description)

    # ---- the whole check ------------------------------------------------------------------

    def authenticate(
        self, token: str | None, *, scopes: Collection[str] = (), space: str | None = None
    ) -> Op[Principal]:
        """The principal of ``token`` holding every scope of ``scopes`` and, when ``space``
        is given, not bound to another space; else a :class:`Challenge`."""
        if token is None:
            raise self.challenge(401, None)
        principal = yield from self.validate(token)
        if principal.dpop_jkt is not None:
            raise self._bound(
                "this access token is bound to a key: check it with authenticate_request and its DPoP proof"
            )
        self.authorize(principal, scopes=scopes, space=space)
        return principal

    def _bound(self, description: str, error: str = "invalid_token") -> Challenge:
        return self.challenge(401, error, description, dpop=True)

    def check_binding(
        self,
        principal: Principal,
        token: str,
        *,
        scheme: str,
        proof: str | None,
        method: str,
        url: str | None,
    ) -> None:
        """RFC 9449 §7.1: a bound token only with the DPoP scheme and a proof of its key; the
        DPoP scheme only with a bound token."""
        if principal.dpop_jkt is None:
            if scheme == "dpop":
                raise self._bound("this access token is not bound to a key: send it as a Bearer token")
            return
        if scheme != "dpop" or url is None:
            raise self._bound("this access token is bound to a key: send it as 'Authorization: DPoP <token>'")
        try:
            _dpop.check_proof(
                proof,
                method=method,
                url=url,
                token=token,
                jkt=principal.dpop_jkt,
                max_age=self.config.dpop_max_age,
                now=self.clock(),
                first_use=self.seen_proofs.first_use,
            )
        except _dpop.ProofError as exc:
            raise self._bound(str(exc), "invalid_dpop_proof") from exc

    def authenticate_request(
        self,
        authorization: str | None,
        query: Iterable[tuple[str, str]] = (),
        form: Iterable[tuple[str, str]] = (),
        *,
        scopes: Collection[str] = (),
        space: str | None = None,
        dpop: str | None = None,
        method: str = "GET",
        url: str | None = None,
    ) -> Op[Principal]:
        """:func:`bearer_token` of the request's parts (its challenges in this resource's
        realm), then :meth:`authenticate`. ``dpop`` (the ``DPoP`` header), ``method`` and
        ``url`` (as the client called it) check a bound token's proof (RFC 9449 §7)."""
        try:
            token = bearer_token(authorization, query, form, allow_query=self.config.allow_query)
        except Challenge as exc:
            raise self.challenge(exc.status, exc.error, exc.description) from None
        if token is None:
            raise self.challenge(401, None)
        principal = yield from self.validate(token)
        scheme = (authorization or "").strip()[:5].lower().strip()
        self.check_binding(principal, token, scheme=scheme, proof=dpop, method=method, url=url)
        self.authorize(principal, scopes=scopes, space=space)
        return principal

    def authorize(
        self, principal: Principal, *, scopes: Collection[str] = (), space: str | None = None
    ) -> None:
        missing = [s for s in scopes if s not in principal.scopes]
        if missing:
            raise self.challenge(
                403, "insufficient_scope", f"the token lacks {' '.join(missing)}", scope=" ".join(scopes)
            )
        if space is not None and principal.space is not None and principal.space != space:
            raise self.challenge(403, "insufficient_scope", "this space token belongs to another space")

    def validate(self, token: str) -> Op[Principal]:
        if self.config.jwt and _looks_like_jwt(token):
            return (yield from self.verify_jwt(token))
        if not self.config.introspection:
            raise self._invalid("the access token is not a JWT access token")
        return (yield from self.introspect(token))

    # ---- JWT access tokens (RFC 9068 §4) ----------------------------------------------------

    def verify_jwt(self, token: str) -> Op[Principal]:
        try:
            header, unverified = _jwt.unverified_parts(token, AccessTokenError)
            if _jwt.media_type(header) != ACCESS_TOKEN_TYPE:
                raise AccessTokenError(f"not a JWT access token: its typ is {header.get('typ')!r}")
            issuer = unverified.get("iss")
            if not isinstance(issuer, str) or issuer not in self.config.issuers:
                raise AccessTokenError(f"the token was issued by {issuer!r}, which is not trusted here")
            key = yield from self.oauth.signing_key(issuer, header.get("kid"), AccessTokenError)
            claims = _jwt.verify_signature(token, key, AccessTokenError)
        except TokenValidationError as exc:
            raise self._invalid(str(exc)) from exc
        if claims.get("iss") != issuer:
            raise self._invalid("the token's issuer changed under its signature")
        now = self.clock()
        expires_at, issued_at = _timestamp(claims.get("exp")), _timestamp(claims.get("iat"))
        if expires_at is None or expires_at.timestamp() <= now - self.config.leeway:
            raise self._invalid("the access token expired")
        if issued_at is None or issued_at.timestamp() > now + self.config.leeway:
            raise self._invalid("the access token was issued in the future")
        audiences = _audiences(claims.get("aud"))
        self._check_audience(audiences, issuer)
        sub, client_id = claims.get("sub"), claims.get("client_id")
        if not isinstance(sub, str) or not isinstance(client_id, str):
            raise self._invalid("the access token has no sub or client_id")
        scope = claims.get("scope")
        space = claims.get("space")
        return Principal(
            subject=sub,
            client_id=client_id,
            scopes=frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
            issuer=issuer,
            space=space if isinstance(space, str) else None,
            audience=self.config.resource if self.config.resource in audiences else None,
            expires_at=expires_at,
            validated_by="jwt",
            dpop_jkt=_dpop.bound_key(claims),
            claims=claims,
        )

    def _check_audience(self, audiences: Sequence[str], issuer: str) -> None:
        if self.config.resource in audiences:
            return
        # A token requested for no resource names the host it came from (RFC 9068 §3).
        if not self.config.require_audience and audiences == [issuer]:
            return
        raise self._invalid("the access token is meant for another resource")

    # ---- introspection (RFC 7662) ---------------------------------------------------------------

    def _key(self, token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def introspect(self, token: str) -> Op[Principal]:
        key = self._key(token)
        now = self.clock()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            principal = cached[1]
        else:
            try:
                answer = yield from self.oauth.introspect(token)
            except FrontdeskError as exc:
                raise self.challenge(
                    503, "temporarily_unavailable", f"cannot check the token: {exc}"
                ) from exc
            principal = self._principal(answer.raw) if answer.active else None
            until = now + self.config.cache_ttl
            if principal is not None and principal.expires_at is not None:
                until = min(until, principal.expires_at.timestamp())
            if self.config.cache_ttl > 0:
                if len(self._cache) >= self.config.cache_size:
                    self._cache.clear()
                self._cache[key] = (until, principal)
        if principal is None:
            raise self._invalid("the access token is not valid")
        if principal.expires_at is not None and principal.expires_at.timestamp() <= now:
            raise self._invalid("the access token expired")
        return principal

    def _principal(self, body: Mapping[str, Any]) -> Principal:
        # RFC 9449 §6.2: a bound token's type is DPoP.
        if body.get("token_type") not in (None, "bearer", "Bearer", "DPoP"):
            raise self._invalid("not an access token")
        aud = body.get("aud")
        audiences = _audiences(aud)
        if audiences and self.config.resource not in audiences:
            raise self._invalid("the access token is meant for another resource")
        if not audiences and self.config.require_audience:
            raise self._invalid("the access token was not requested for this resource")
        scope = body.get("scope")
        space = body.get("space")
        return Principal(
            subject=str(body.get("sub") or ""),
            client_id=str(body.get("client_id") or ""),
            scopes=frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
            issuer=str(body.get("iss") or self.config.issuer),
            space=space if isinstance(space, str) else None,
            audience=self.config.resource if audiences else None,
            expires_at=_timestamp(body.get("exp")),
            validated_by="introspection",
            dpop_jkt=_dpop.bound_key(body),
            claims=dict(body),
        )

    def clear_cache(self) -> None:
        self._cache.clear()


# ---- the shells ---------------------------------------------------------------------------------


class _Shell:
    """What both shells share: the configuration and the core they drive."""

    def __init__(self, config: ResourceServerConfig | None, settings: dict[str, Any]) -> None:
        if config is not None and settings:
            raise ConfigurationError("pass either a ResourceServerConfig or keyword settings")
        self.config = config if config is not None else ResourceServerConfig(**settings)
        self._core = ResourceServerCore(self.config)

    def challenge(self, status: int, error: str | None, description: str | None = None) -> Challenge:
        return self._core.challenge(status, error, description)

    def clear_cache(self) -> None:
        self._core.clear_cache()


class ResourceServer(_Shell):
    """Blocking validation (Flask, Django, any WSGI app).

    >>> rs = ResourceServer(issuer="http://localhost:8000", resource="http://localhost:9100",
    ...                     client_id="bookings-api", client_secret="…")      # doctest: +SKIP
    >>> principal = rs.authenticate(request_token, scopes=["read_bookings"])  # doctest: +SKIP
    """

    def __init__(
        self,
        config: ResourceServerConfig | None = None,
        *,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        **settings: Any,
    ) -> None:
        super().__init__(config, settings)
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(
            transport=transport, timeout=self._core.oauth.http.httpx_timeout
        )
        self._driver = SyncDriver(self._http)

    def authenticate(
        self, token: str | None, *, scopes: Collection[str] = (), space: str | None = None
    ) -> Principal:
        return self._driver.run(self._core.authenticate(token, scopes=scopes, space=space))

    def authenticate_request(
        self,
        authorization: str | None,
        query: Iterable[tuple[str, str]] = (),
        form: Iterable[tuple[str, str]] = (),
        *,
        scopes: Collection[str] = (),
        space: str | None = None,
        dpop: str | None = None,
        method: str = "GET",
        url: str | None = None,
    ) -> Principal:
        """:func:`bearer_token` of the request's parts, then :meth:`authenticate`; ``dpop``,
        ``method`` and ``url`` check the proof of a DPoP-bound token (RFC 9449 §7)."""
        op = self._core.authenticate_request(
            authorization, query, form, scopes=scopes, space=space, dpop=dpop, method=method, url=url
        )
        return self._driver.run(op)

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> ResourceServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncResourceServer(_Shell):
    """Asyncio validation (Starlette, FastAPI, any ASGI app); the same as :class:`ResourceServer`."""

    def __init__(
        self,
        config: ResourceServerConfig | None = None,
        *,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        **settings: Any,
    ) -> None:
        super().__init__(config, settings)
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(
            transport=transport, timeout=self._core.oauth.http.httpx_timeout
        )
        self._driver = AsyncDriver(self._http)

    async def authenticate(
        self, token: str | None, *, scopes: Collection[str] = (), space: str | None = None
    ) -> Principal:
        return await self._driver.run(self._core.authenticate(token, scopes=scopes, space=space))

    async def authenticate_request(
        self,
        authorization: str | None,
        query: Iterable[tuple[str, str]] = (),
        form: Iterable[tuple[str, str]] = (),
        *,
        scopes: Collection[str] = (),
        space: str | None = None,
        dpop: str | None = None,
        method: str = "GET",
        url: str | None = None,
    ) -> Principal:
        """:func:`bearer_token` of the request's parts, then :meth:`authenticate`; ``dpop``,
        ``method`` and ``url`` check the proof of a DPoP-bound token (RFC 9449 §7)."""
        op = self._core.authenticate_request(
            authorization, query, form, scopes=scopes, space=space, dpop=dpop, method=method, url=url
        )
        return await self._driver.run(op)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncResourceServer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


__all__ = [
    "ACCESS_TOKEN_TYPE",
    "METADATA_PATH",
    "AccessTokenError",
    "AsyncResourceServer",
    "Challenge",
    "Principal",
    "ResourceServer",
    "ResourceServerConfig",
    "ResourceServerCore",
    "bearer_token",
]
