"""Results, as frozen dataclasses. Each keeps the JSON it came from in ``raw``."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from frontdesk.client.errors import ConfigurationError, DiscoveryError, ProtocolError

__all__ = [
    "AdminRole",
    "IframeContext",
    "Introspection",
    "Membership",
    "NavigationLink",
    "NavigationLinkSpec",
    "PendingAuthorization",
    "ServerMetadata",
    "Space",
    "SpaceToken",
    "Token",
    "TokenInfo",
    "User",
    "UserMembership",
]


def _require_str(
    data: Mapping[str, Any], name: str, what: str, error: type[ProtocolError] = ProtocolError
) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise error(f"{what} has no {name!r}")
    return value


def _opt_str(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    return value if isinstance(value, str) and value else None


def _str_tuple(value: Any) -> tuple[str, ...]:
    """A scope string (space-separated) or a JSON array of strings as a tuple."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    raise ProtocolError(f"expected a string or a list of strings, got {type(value).__name__}")


def _object(data: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ProtocolError(f"{what} is not a JSON object")
    return data


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    return None


@dataclass(frozen=True)
class ServerMetadata:
    """An issuer's metadata (RFC 8414 / OpenID Connect Discovery), as far as the client uses it."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str | None = None
    userinfo_endpoint: str | None = None
    revocation_endpoint: str | None = None
    introspection_endpoint: str | None = None
    registration_endpoint: str | None = None
    # RFC 8628 §4: where a device asks for its codes.
    device_authorization_endpoint: str | None = None
    scopes_supported: tuple[str, ...] = ()
    grant_types_supported: tuple[str, ...] = ()
    code_challenge_methods_supported: tuple[str, ...] = ()
    token_endpoint_auth_methods_supported: tuple[str, ...] = ()
    id_token_signing_alg_values_supported: tuple[str, ...] = ()
    authorization_response_iss_parameter_supported: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Any) -> ServerMetadata:
        doc = data if isinstance(data, Mapping) else None
        if doc is None:
            raise DiscoveryError("the metadata is not a JSON object")

        def tup(name: str) -> tuple[str, ...]:
            try:
                return _str_tuple(doc.get(name))
            except ProtocolError as exc:
                raise DiscoveryError(f"metadata field {name!r}: {exc}") from exc

        return cls(
            issuer=_require_str(doc, "issuer", "the metadata", DiscoveryError),
            authorization_endpoint=_require_str(
                doc, "authorization_endpoint", "the metadata", DiscoveryError
            ),
            token_endpoint=_require_str(doc, "token_endpoint", "the metadata", DiscoveryError),
            jwks_uri=_opt_str(doc, "jwks_uri"),
            userinfo_endpoint=_opt_str(doc, "userinfo_endpoint"),
            revocation_endpoint=_opt_str(doc, "revocation_endpoint"),
            introspection_endpoint=_opt_str(doc, "introspection_endpoint"),
            registration_endpoint=_opt_str(doc, "registration_endpoint"),
            device_authorization_endpoint=_opt_str(doc, "device_authorization_endpoint"),
            scopes_supported=tup("scopes_supported"),
            grant_types_supported=tup("grant_types_supported"),
            code_challenge_methods_supported=tup("code_challenge_methods_supported"),
            token_endpoint_auth_methods_supported=tup("token_endpoint_auth_methods_supported"),
            id_token_signing_alg_values_supported=tup("id_token_signing_alg_values_supported"),
            authorization_response_iss_parameter_supported=doc.get(
                "authorization_response_iss_parameter_supported"
            )
            is True,
            raw=dict(doc),
        )


@dataclass(frozen=True)
class PendingAuthorization:
    """An authorization the app started and must remember until the person comes back.

    Store it server-side (e.g. in the session) — ``code_verifier`` is a secret:

    >>> pending = PendingAuthorization(url="https://x/oauth/authorize?…", state="s", code_verifier="v",
    ...     nonce=None, issuer="https://x", redirect_uri="https://app/cb", scope=("read_user",))
    >>> PendingAuthorization.from_dict(pending.to_dict()) == pending
    True
    """

    url: str
    state: str
    code_verifier: str | None
    nonce: str | None
    issuer: str
    redirect_uri: str
    scope: tuple[str, ...]
    created_at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable dict (for a session)."""
        return {
            "url": self.url,
            "state": self.state,
            "code_verifier": self.code_verifier,
            "nonce": self.nonce,
            "issuer": self.issuer,
            "redirect_uri": self.redirect_uri,
            "scope": list(self.scope),
            "created_at": self.created_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PendingAuthorization:
        try:
            return cls(
                url=str(data["url"]),
                state=str(data["state"]),
                code_verifier=data.get("code_verifier"),
                nonce=data.get("nonce"),
                issuer=str(data["issuer"]),
                redirect_uri=str(data["redirect_uri"]),
                scope=tuple(data.get("scope") or ()),
                created_at=float(data.get("created_at") or time.time()),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigurationError(f"not a stored PendingAuthorization: {exc}") from exc


@dataclass(frozen=True)
class DeviceAuthorization:
    """A device authorization response (RFC 8628 §3.2): show ``user_code`` and
    ``verification_uri`` (or a QR code of ``verification_uri_complete``) to the person, then
    :meth:`frontdesk.client.Client.poll_device` until they decide. ``device_code`` is a secret.

    >>> d = DeviceAuthorization.from_response({"device_code": "fddc_x", "user_code": "WDJB-MJHT",
    ...     "verification_uri": "https://x/device", "expires_in": 600, "interval": 5},
    ...     issuer="https://x", scope=("read_user",))
    >>> (d.user_code, d.interval, d.qr_code_url)
    ('WDJB-MJHT', 5, 'https://x/device/qr?user_code=WDJB-MJHT')
    """

    device_code: str = field(repr=False)
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in: int
    interval: int
    issuer: str
    scope: tuple[str, ...] = ()
    created_at: float = field(default_factory=time.time)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def expires_at(self) -> float:
        return self.created_at + self.expires_in

    @property
    def qr_code_url(self) -> str:
        """Frontdesk's QR code (SVG) of ``verification_uri_complete`` for a device with a screen
        that shows images (``&format=png`` for PNG); ``/device/show`` is a page with it."""
        return f"{self.issuer}/device/qr?user_code={quote(self.user_code, safe='-')}"

    @classmethod
    def from_response(
        cls, data: Any, *, issuer: str, scope: tuple[str, ...] = (), now: float | None = None
    ) -> DeviceAuthorization:
        body = data if isinstance(data, Mapping) else None
        if body is None:
            raise ProtocolError("the device authorization response is not a JSON object")
        where = "the device authorization response"

        def number(name: str, default: int | None) -> int:
            value = body.get(name, default)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ProtocolError(f"{where}: {name!r} is not a number of seconds")
            return value

        return cls(
            device_code=_require_str(body, "device_code", where, ProtocolError),
            user_code=_require_str(body, "user_code", where, ProtocolError),
            verification_uri=_require_str(body, "verification_uri", where, ProtocolError),
            verification_uri_complete=_opt_str(body, "verification_uri_complete"),
            expires_in=number("expires_in", None),
            # §3.2: "If no value is provided, clients MUST use 5 as the default."
            interval=number("interval", 5),
            issuer=issuer,
            scope=scope,
            created_at=time.time() if now is None else now,
            raw=dict(body),
        )


@dataclass(frozen=True)
class Token:
    """A token response (RFC 6749 §5.1).

    ``scope`` is what was granted (the requested scope when the server did not say),
    ``expires_at`` is ``None`` for tokens that do not expire (Frontdesk's default),
    ``id_token_claims`` holds the *verified* claims of the ID token when one came back, and
    ``issuer`` is the issuer whose token endpoint issued it (refreshes go there).
    """

    access_token: str
    token_type: str
    scope: tuple[str, ...]
    expires_at: datetime | None = None
    refresh_token: str | None = None
    id_token: str | None = field(default=None, repr=False)
    id_token_claims: Mapping[str, Any] | None = field(default=None, compare=False)
    issuer: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __repr__(self) -> str:  # never print the secrets
        return (
            f"Token(token_type={self.token_type!r}, scope={self.scope!r}, expires_at={self.expires_at!r}, "
            f"refresh_token={'…' if self.refresh_token else None}, issuer={self.issuer!r})"
        )

    @classmethod
    def from_response(
        cls,
        data: Any,
        *,
        requested_scope: Iterable[str] = (),
        issuer: str | None = None,
        now: float | None = None,
    ) -> Token:
        body = _object(data, "the token response")
        access_token = _require_str(body, "access_token", "the token response")
        token_type = _require_str(body, "token_type", "the token response")
        if token_type.lower() != "bearer":
            raise ProtocolError(f"unsupported token_type {token_type!r}")
        expires_in = body.get("expires_in")
        expires_at = None
        if expires_in is not None:
            if isinstance(expires_in, bool) or not isinstance(expires_in, int | float | str):
                raise ProtocolError("expires_in is not a number")
            try:
                seconds = float(expires_in)
            except ValueError as exc:
                raise ProtocolError("expires_in is not a number") from exc
            expires_at = datetime.fromtimestamp((now if now is not None else time.time()) + seconds, UTC)
        scope = _str_tuple(body["scope"]) if "scope" in body else tuple(requested_scope)
        return cls(
            access_token=access_token,
            token_type=token_type,
            scope=scope,
            expires_at=expires_at,
            refresh_token=_opt_str(body, "refresh_token"),
            id_token=_opt_str(body, "id_token"),
            issuer=issuer,
            raw=dict(body),
        )

    def expires_in(self, now: float | None = None) -> float | None:
        """Seconds until the access token expires (negative once expired); None if never."""
        if self.expires_at is None:
            return None
        return self.expires_at.timestamp() - (now if now is not None else time.time())

    def is_expired(self, leeway: float = 0.0, now: float | None = None) -> bool:
        """True when the token expires within ``leeway`` seconds."""
        remaining = self.expires_in(now)
        return remaining is not None and remaining <= leeway

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable dict for storage (the token response plus what was derived)."""
        return {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "scope": list(self.scope),
            "expires_at": self.expires_at.timestamp() if self.expires_at else None,
            "refresh_token": self.refresh_token,
            "id_token": self.id_token,
            "id_token_claims": dict(self.id_token_claims) if self.id_token_claims is not None else None,
            "issuer": self.issuer,
            "raw": dict(self.raw),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Token:
        try:
            return cls(
                access_token=str(data["access_token"]),
                token_type=str(data.get("token_type") or "bearer"),
                scope=_str_tuple(data.get("scope")),
                expires_at=_timestamp(data.get("expires_at")),
                refresh_token=data.get("refresh_token"),
                id_token=data.get("id_token"),
                id_token_claims=data.get("id_token_claims"),
                issuer=data.get("issuer"),
                raw=dict(data.get("raw") or {}),
            )
        except (KeyError, TypeError, ProtocolError) as exc:
            raise ConfigurationError(f"not a stored Token: {exc}") from exc


@dataclass(frozen=True)
class SpaceToken:
    """A space token (``POST /api/access_tokens/<token>/space``): same app and scope as the
    user token it came from, bound to one space, and it survives its creator leaving."""

    token: str = field(repr=False)
    scope: tuple[str, ...]
    client_id: str
    space_id: str
    space_subdomain: str
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Any, *, subdomain: str | None = None) -> SpaceToken:
        body = _object(data, "the space token response")
        return cls(
            token=_require_str(body, "token", "the space token response"),
            scope=_str_tuple(body.get("scope")),
            client_id=_require_str(body, "client_id", "the space token response"),
            # Cobot's answer has neither; then what the app asked for has to do.
            space_id=_opt_str(body, "space_id") or "",
            space_subdomain=_opt_str(body, "space_subdomain") or subdomain or "",
            raw=dict(body),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "scope": list(self.scope),
            "client_id": self.client_id,
            "space_id": self.space_id,
            "space_subdomain": self.space_subdomain,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SpaceToken:
        return cls.from_json(dict(data))


@dataclass(frozen=True)
class TokenInfo:
    """``GET /api/access_tokens/<token>``: the token's scope."""

    scope: tuple[str, ...]
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Any) -> TokenInfo:
        body = _object(data, "the token info")
        return cls(scope=_str_tuple(body.get("scope")), raw=dict(body))


@dataclass(frozen=True)
class Introspection:
    """An RFC 7662 introspection response."""

    active: bool
    scope: tuple[str, ...] = ()
    client_id: str | None = None
    sub: str | None = None
    token_type: str | None = None
    expires_at: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Any) -> Introspection:
        body = _object(data, "the introspection response")
        active = body.get("active")
        if not isinstance(active, bool):
            raise ProtocolError("the introspection response has no boolean 'active'")
        return cls(
            active=active,
            scope=_str_tuple(body.get("scope")),
            client_id=_opt_str(body, "client_id"),
            sub=_opt_str(body, "sub"),
            token_type=_opt_str(body, "token_type"),
            expires_at=_timestamp(body.get("exp")),
            raw=dict(body),
        )


@dataclass(frozen=True)
class UserMembership:
    """An entry of ``memberships`` in ``GET /api/user``: a space the user is a member of."""

    id: str
    space_subdomain: str
    space_name: str
    space_link: str
    link: str


@dataclass(frozen=True)
class AdminRole:
    """An entry of ``admin_of`` in ``GET /api/user``; ``name`` is the admin's name there."""

    space_subdomain: str
    space_name: str
    space_link: str
    name: str


@dataclass(frozen=True)
class User:
    """``GET /api/user``. Identify people by ``id``, never by ``email`` (it can change)."""

    id: str
    email: str
    name: str
    memberships: tuple[UserMembership, ...] = ()
    admin_of: tuple[AdminRole, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Any) -> User:
        body = _object(data, "the user")
        memberships = tuple(
            UserMembership(
                id=str(m.get("id", "")),
                space_subdomain=str(m.get("space_subdomain", "")),
                space_name=str(m.get("space_name", "")),
                space_link=str(m.get("space_link", "")),
                link=str(m.get("link", "")),
            )
            for m in body.get("memberships") or ()
            if isinstance(m, Mapping)
        )
        admin_of = tuple(
            AdminRole(
                space_subdomain=str(a.get("space_subdomain", "")),
                space_name=str(a.get("space_name", "")),
                space_link=str(a.get("space_link", "")),
                name=str(a.get("name", "")),
            )
            for a in body.get("admin_of") or ()
            if isinstance(a, Mapping)
        )
        return cls(
            id=_require_str(body, "id", "the user"),
            email=str(body.get("email") or ""),
            name=str(body.get("name") or ""),
            memberships=memberships,
            admin_of=admin_of,
            raw=dict(body),
        )

    def is_admin_of(self, subdomain: str) -> bool:
        return any(a.space_subdomain == subdomain for a in self.admin_of)

    def is_member_of(self, subdomain: str) -> bool:
        """Member or admin."""
        return self.is_admin_of(subdomain) or any(m.space_subdomain == subdomain for m in self.memberships)


@dataclass(frozen=True)
class Space:
    """``GET /api/spaces/<subdomain>``; ``url`` is the custom domain when the space has one."""

    id: str
    subdomain: str
    name: str
    url: str
    custom_domain: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Any) -> Space:
        body = _object(data, "the space")
        return cls(
            id=_require_str(body, "id", "the space"),
            subdomain=_require_str(body, "subdomain", "the space"),
            name=str(body.get("name") or ""),
            url=str(body.get("url") or ""),
            custom_domain=_opt_str(body, "custom_domain"),
            raw=dict(body),
        )


@dataclass(frozen=True)
class Membership:
    """A person in a space (``GET /api/spaces/<sub>/memberships``); ``role`` is admin or member."""

    id: str
    user_id: str
    name: str
    email: str
    role: str
    link: str
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Any) -> Membership:
        body = _object(data, "a membership")
        return cls(
            id=_require_str(body, "id", "a membership"),
            user_id=str(body.get("user_id") or ""),
            name=str(body.get("name") or ""),
            email=str(body.get("email") or ""),
            role=str(body.get("role") or ""),
            link=str(body.get("link") or ""),
            raw=dict(body),
        )


@dataclass(frozen=True)
class NavigationLinkSpec:
    """A navigation link an app wants in a space (see ``install_navigation_links``).

    ``section`` is ``members``, ``admin``, ``admin/setup``, ``admin/manage`` or
    ``admin/analyze``; links match on ``section`` and ``iframe_url``."""

    section: str
    label: str
    iframe_url: str
    user_editable: bool = True

    def as_json(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "label": self.label,
            "iframe_url": self.iframe_url,
            "user_editable": self.user_editable,
        }


@dataclass(frozen=True)
class NavigationLink:
    """A navigation link of this app in a space. ``url`` is its API URL, ``user_url`` the
    page in the space that shows the app in an iframe."""

    id: str
    section: str
    label: str
    iframe_url: str
    user_editable: bool
    url: str
    user_url: str
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Any) -> NavigationLink:
        body = _object(data, "a navigation link")
        url = str(body.get("url") or "")
        link_id = _opt_str(body, "id") or url.rstrip("/").rsplit("/", 1)[-1]
        if not link_id:
            raise ProtocolError("a navigation link has neither 'id' nor 'url'")
        return cls(
            id=link_id,
            section=str(body.get("section") or ""),
            label=str(body.get("label") or ""),
            iframe_url=str(body.get("iframe_url") or ""),
            user_editable=bool(body.get("user_editable", True)),
            url=url,
            user_url=str(body.get("user_url") or ""),
            raw=dict(body),
        )

    def matches(self, spec: NavigationLinkSpec) -> bool:
        return self.section == spec.section and self.iframe_url == spec.iframe_url


@dataclass(frozen=True)
class IframeContext:
    """A verified ``frontdesk_context``: who opened the app's page in which space.

    ``role`` is ``"admin"`` or ``"member"``; ``navigation_link_id`` is the link whose page
    was opened (when the platform says); ``claims`` holds every claim of the JWT."""

    issuer: str
    client_id: str
    user_id: str
    role: str
    space_id: str
    space_subdomain: str
    issued_at: datetime
    expires_at: datetime
    navigation_link_id: str | None = None
    claims: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"
