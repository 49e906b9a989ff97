"""The storage interface the protocol core needs (implemented by
:class:`frontdesk.store.sql_storage.SqlStorage`, wrapped by the caching layer
:class:`frontdesk.store.caching.CachingStorage`, and in the tests by an in-memory storage).

Narrow, per-aggregate protocols (cf. fosite's per-grant storage). Writes are staged in the
current unit of work; the core never commits. Whoever runs the request commits it (see
:mod:`frontdesk.store.unit_of_work`): on success, or on an error raised with ``persist=True``
(a burned code, revoked tokens, a failed client authentication worth auditing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from joserfc.jwk import RSAKey

from frontdesk.oauth.models import (
    Client,
    ConsumedCode,
    NewCode,
    NewToken,
    Person,
    SpaceRole,
    TokenInfo,
)


class ClientStore(Protocol):
    async def get_client(self, client_id: str) -> Client | None: ...

    async def check_client_secret(self, client: Client, secret: str) -> bool:
        """Constant-time comparison of ``secret`` against the stored digest."""
        ...


class CodeStore(Protocol):
    async def save_code(self, raw: str, code: NewCode) -> None: ...

    async def consume_code(self, raw: str) -> ConsumedCode:
        """Mark the code used, atomically: of concurrent callers exactly one gets the code;
        the others (and any later caller) get ``replayed_code_id``."""
        ...


@dataclass(frozen=True)
class PushedRequest:
    """A pushed authorization request (RFC 9126 §2): the authorization request's parameters
    as the client pushed them (a request object's claims already in their place), for one
    client on one host. Stored under a digest of the random part of its ``request_uri``."""

    client_id: str
    issuer: str
    space_id: str | None
    params: tuple[tuple[str, str], ...]
    expires_at: datetime
    # When the authorization endpoint first read it (the person's interaction began).
    opened_at: datetime | None = None
    # When an authorization decision used it up (single use, RFC 9126 §4, §7.3).
    used_at: datetime | None = None


class PushedRequestStore(Protocol):
    async def save_pushed_request(self, raw: str, pushed: PushedRequest) -> None: ...

    async def find_pushed_request(self, raw: str) -> PushedRequest | None:
        """The pushed request whose ``request_uri`` ends in ``raw`` (used or not)."""
        ...

    async def open_pushed_request(self, raw: str, until: datetime) -> None:
        """Note that the interaction began (``opened_at``) and keep the request until
        ``until``: the person may log in and consent before a decision uses it."""
        ...

    async def use_pushed_request(self, raw: str, now: datetime) -> bool:
        """Mark it used, atomically: of concurrent callers exactly one gets True."""
        ...


class TokenStore(Protocol):
    async def save_token(self, raw: str, token: NewToken) -> str:
        """Store the token's digest; returns the token's id."""
        ...

    async def lookup_token(self, raw: str) -> TokenInfo | None:
        """One indexed lookup by digest; revoked and expired tokens are returned as such."""
        ...

    def note_token_use(self, token_id: str) -> None:
        """Remember that the token was just used (``last_used_at``); may be written later,
        in batches, and never in the caller's transaction."""
        ...


# ---- revoking grants --------------------------------------------------------------------------
# What one call to :meth:`GrantStore.revoke_grant` takes back. A *grant* here is every token
# issued on one authorization: the access tokens, the refresh token family they belong to, and
# (with ``descendants``) the tokens derived from them later (refreshed tokens and space tokens,
# linked by their parent).


@dataclass(frozen=True)
class TokenGrant:
    """One access token, and its refresh family when it has one (RFC 7009 §2.1)."""

    token_id: str


@dataclass(frozen=True)
class FamilyGrant:
    """A refresh token family: every refresh and access token in it (RFC 9700 §4.14.2)."""

    family_id: str


@dataclass(frozen=True)
class CodeGrant:
    """Everything issued from an authorization code (RFC 6749 §4.1.2, §10.5)."""

    code_id: str


@dataclass(frozen=True)
class UserAppGrant:
    """Everything a person gave an app (the person revokes the app): their user tokens
    (access and refresh; not the space tokens they created, which belong to the spaces),
    codes not yet redeemed and the remembered consents, on every host."""

    user_id: str
    client_id: str


@dataclass(frozen=True)
class SpaceAppGrant:
    """An app's space tokens for one space (a space admin revokes the app)."""

    space_id: str
    client_id: str


@dataclass(frozen=True)
class AppGrants:
    """Every token, code and consent of an app (the app is deleted)."""

    client_id: str


GrantSelector = TokenGrant | FamilyGrant | CodeGrant | UserAppGrant | SpaceAppGrant | AppGrants


@dataclass(frozen=True)
class RevokedGrant:
    """What a revocation changed just now (tokens revoked before are not counted)."""

    access_token_ids: tuple[str, ...] = ()
    refresh_tokens: int = 0
    codes: int = 0
    consents: int = 0

    @property
    def tokens(self) -> int:
        return len(self.access_token_ids) + self.refresh_tokens

    @property
    def anything(self) -> bool:
        return bool(self.tokens or self.codes or self.consents)


class GrantStore(Protocol):
    async def revoke_grant(self, grant: GrantSelector, *, descendants: bool = False) -> RevokedGrant:
        """Revoke the selected tokens and the refresh families they belong to; with
        ``descendants``, also every token derived from them (by parent, transitively)."""
        ...


class ConsentStore(Protocol):
    async def granted_scopes(self, user_id: str, client_id: str, space_id: str | None) -> frozenset[str]: ...

    async def remember_consent(
        self, user_id: str, client_id: str, space_id: str | None, scopes: tuple[str, ...]
    ) -> None: ...


@dataclass(frozen=True)
class NewRefreshToken:
    """A refresh token to store (as a digest), in its family."""

    family_id: str
    client_id: str
    user_id: str
    # Always the scope of the whole grant, even when the access token was narrowed (§6).
    scopes: tuple[str, ...]
    access_token_id: str
    space_id: str | None = None
    issuer: str | None = None
    code_id: str | None = None
    # The family's absolute end (every token of a family shares it); None: never.
    expires_at: datetime | None = None
    # RFC 8707: the audience of the family's access tokens.
    audience: str | None = None
    # RFC 9449 §5: the JWK thumbprint of the key the refresh token is bound to (None: unbound).
    dpop_jkt: str | None = None


@dataclass(frozen=True)
class RefreshTokenRecord:
    """A stored refresh token, with what its family started from."""

    id: str
    family_id: str
    client_id: str
    user_id: str
    scopes: tuple[str, ...]
    created_at: datetime
    space_id: str | None = None
    issuer: str | None = None
    code_id: str | None = None
    access_token_id: str | None = None
    expires_at: datetime | None = None
    rotated_at: datetime | None = None
    revoked_at: datetime | None = None
    # From the authorization code the family started with (OpenID Connect on refresh); set
    # on the record a successful rotation returns, not necessarily on a plain lookup.
    auth_time: datetime | None = None
    auth_space_id: str | None = None
    # The code's login methods (RFC 8176), for the ID token on refresh.
    amr: tuple[str, ...] = ()
    # RFC 8707: the audience of the family's access tokens.
    audience: str | None = None
    # The browser session the family's code was issued in (the ID token's ``sid``).
    sid: str | None = None
    # RFC 9449 §5: the JWK thumbprint of the key the refresh token is bound to (None: unbound).
    dpop_jkt: str | None = None

    def active(self, now: datetime) -> bool:
        return (
            self.rotated_at is None
            and self.revoked_at is None
            and (self.expires_at is None or self.expires_at > now)
        )


@dataclass(frozen=True)
class Rotation:
    """The outcome of trying to use a refresh token once: ``rotated`` when this caller won
    it; else ``found`` is the token as stored (another client's, expired, already rotated or
    revoked), or both are None for an unknown token."""

    rotated: RefreshTokenRecord | None = None
    found: RefreshTokenRecord | None = None


class RefreshStore(Protocol):
    """Refresh tokens: rotation, families, reuse detection (RFC 6749 §6, RFC 9700 §4.14)."""

    async def save_refresh_token(self, raw: str, token: NewRefreshToken) -> str:
        """Store the token's digest; returns its id."""
        ...

    async def assign_token_family(self, token_id: str, family_id: str) -> None:
        """Put an access token (the first of a new family) into ``family_id``."""
        ...

    async def rotate_refresh_token(self, raw: str, client_id: str, now: datetime) -> Rotation:
        """Mark the token rotated at ``now``, atomically: of concurrent callers exactly one
        gets ``rotated``; only a live token of ``client_id`` is rotated."""
        ...

    async def find_refresh_token(self, raw: str) -> RefreshTokenRecord | None:
        """One indexed lookup by digest; rotated, revoked and expired tokens too."""
        ...


@dataclass(frozen=True)
class SigningKeyPair:
    """The key that signs now: its id (the JWS ``kid`` header) and its private half."""

    kid: str
    alg: str
    private_key: RSAKey


class KeyStore(Protocol):
    async def signing_key(self) -> SigningKeyPair:
        """The newest key that is not retired. When there is none yet, one is created in the
        current transaction (committed with the token it signs)."""
        ...


class PersonStore(Protocol):
    """What the core may say about people: OpenID Connect claims, introspection, the API."""

    async def person(self, user_id: str) -> Person | None:
        """The person, or None when the account no longer exists."""
        ...

    async def space_role(self, space_id: str, user_id: str) -> SpaceRole | None:
        """The person's role in the space (``role`` None when they have none there); None
        when the space no longer exists."""
        ...

    async def acting_person(self, token: TokenInfo) -> Person | None:
        """Who a token acts for: its user; for a space token, its creator while they are an
        admin of the space, else the space's owner. None when that account or space is gone."""
        ...


class EventStore(Protocol):
    async def record_event(
        self,
        event: str,
        *,
        user_id: str | None = None,
        app_id: str | None = None,
        space_id: str | None = None,
        ip: str = "",
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Add a security event (a name from :mod:`frontdesk.events`) to the audit log; staged
        with the surrounding work."""
        ...


# ---- the device authorization grant (RFC 8628, oauth/device.py) ---------------------------------

# Where a device authorization stands: waiting for the person, decided, then redeemed once.
DEVICE_PENDING = "pending"
DEVICE_APPROVED = "approved"
DEVICE_DENIED = "denied"
DEVICE_USED = "used"


@dataclass(frozen=True)
class NewDeviceAuthorization:
    """A device authorization request (RFC 8628 §3.1) as issued: stored under the digests of
    its device code and its user code."""

    client_id: str
    scopes: tuple[str, ...]
    # The host it was asked at: the tokens' issuer, and the only host its user code works on.
    issuer: str
    space_id: str | None
    # Seconds the device waits between polls (§3.2); grows by 5 s with every slow_down (§3.5).
    interval: int
    expires_at: datetime
    # Which device asks, shown on the consent page (§5.4): its address and User-Agent.
    device_ip: str = ""
    device_agent: str = ""


@dataclass(frozen=True)
class DeviceAuthorization(NewDeviceAuthorization):
    id: str = ""
    created_at: datetime | None = None
    status: str = DEVICE_PENDING
    # Set once the person decided (approved or denied).
    user_id: str | None = None
    auth_time: datetime | None = None
    amr: tuple[str, ...] = ()
    sid: str | None = None
    # The poll before this one (None: the first poll).
    last_polled_at: datetime | None = None


@dataclass(frozen=True)
class DeviceDecision:
    """The person's answer to a device authorization, with their login for the tokens."""

    approved: bool
    user_id: str
    auth_time: datetime
    amr: tuple[str, ...] = ()
    sid: str | None = None


class DeviceStore(Protocol):
    """Device authorizations (RFC 8628): device and user codes stored as digests only."""

    async def save_device_authorization(
        self, device_code: str, user_code: str, new: NewDeviceAuthorization, now: datetime
    ) -> bool:
        """Store it; False (nothing stored) when an unexpired authorization already has this
        user code: the caller draws another."""
        ...

    async def find_device_by_user_code(self, user_code: str, issuer: str) -> DeviceAuthorization | None:
        """The newest authorization with this (normalised) user code on this issuer, in any
        state, expired or not."""
        ...

    async def decide_device(self, authorization_id: str, decision: DeviceDecision, now: datetime) -> bool:
        """Record the person's answer, atomically: only a pending, unexpired authorization
        changes; False otherwise."""
        ...

    async def poll_device(self, device_code: str, now: datetime) -> DeviceAuthorization | None:
        """The authorization of this device code as it was before this poll (its
        ``last_polled_at`` is the previous poll's); notes ``now`` as the latest poll."""
        ...

    async def slow_device(self, authorization_id: str, interval: int) -> None:
        """The device polled too soon: its interval from now on (RFC 8628 §3.5 slow_down)."""
        ...

    async def redeem_device(self, authorization_id: str) -> bool:
        """Approved → used, atomically: of concurrent redemptions exactly one gets True."""
        ...


class Storage(
    ClientStore,
    CodeStore,
    TokenStore,
    GrantStore,
    ConsentStore,
    RefreshStore,
    KeyStore,
    PersonStore,
    EventStore,
    DeviceStore,
    Protocol,
):
    """Everything the protocol core reads and writes."""


class PasswordAuthenticator(Protocol):
    """Checks a person's email and password (Argon2id, capped; see RFC 6749 §4.3)."""

    async def __call__(self, email: str, password: str) -> Person | None: ...


class ClientKeyStore(Protocol):
    async def client_keys(self, client: Client) -> str | None:
        """The public keys of a ``private_key_jwt`` client (RFC 7523 §2.2): a JWK Set as JSON
        text, from its registered ``jwks`` or fetched from its ``jwks_uri`` (cached, timed out,
        address-checked); None when it has none. Verifies client assertions and request
        objects (RFC 9101 §6.2)."""
        ...


class ReplayGuard(Protocol):
    """Remembers one-time values (a ``jti``) for as long as they could be replayed
    (services/throttle.Throttle.first_use: Redis when configured, else per worker)."""

    async def first_use(self, kind: str, value: str, seconds: int) -> bool:
        """True the first time ``value`` is seen under ``kind`` within ``seconds``."""
        ...


class Limiter(Protocol):
    """A failure throttle around checking one credential (RFC 6749 §4.3.2, §2.3.1; RFC 6819
    §5.1.4.2.3): :meth:`attempt` before the check, then :meth:`failed` or :meth:`succeeded`.
    ``keys`` name the ``address`` and whose credential it is (``account``, ``client``)."""

    async def attempt(self, keys: dict[str, str]) -> int | None:
        """``None`` if the check may run, else the seconds to wait."""
        ...

    async def failed(self, keys: dict[str, str]) -> None: ...

    async def succeeded(self, keys: dict[str, str]) -> None: ...
