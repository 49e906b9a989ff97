"""The storage interface the protocol core needs (implemented in :mod:`frontdesk.store`).

Narrow, per-aggregate protocols (cf. fosite's per-grant storage). Writes are staged until
:meth:`Storage.commit`, so consuming a code and issuing its token commit together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from joserfc.jwk import RSAKey

from frontdesk.oauth.models import Client, ConsumedCode, NewCode, NewToken, TokenInfo, UserRef


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

    async def revoke_tokens_of_code(self, code_id: str) -> int: ...


class TokenStore(Protocol):
    async def save_token(self, raw: str, token: NewToken) -> str:
        """Store the token's digest; returns the token's id."""
        ...

    async def lookup_token(self, raw: str) -> TokenInfo | None:
        """One indexed lookup by digest; revoked and expired tokens are returned as such."""
        ...

    async def revoke_token(self, token_id: str) -> None: ...


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
    # From the authorization code the family started with (OpenID Connect on refresh).
    auth_time: datetime | None = None
    auth_space_id: str | None = None

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

    async def revoke_refresh_family(self, family_id: str) -> int:
        """Revoke every refresh token and every access token of the family; returns how
        many tokens were live."""
        ...


@dataclass(frozen=True)
class SigningKeyPair:
    """The key that signs now: its id (the JWS ``kid`` header) and its private half."""

    kid: str
    alg: str
    private_key: RSAKey


@dataclass(frozen=True)
class SpaceRole:
    """The user's place in the space whose host the authorization happened on."""

    id: str
    subdomain: str
    # "admin", "member", or None when the user belongs to the space in no role.
    role: str | None


@dataclass(frozen=True)
class UserClaims:
    """What OpenID Connect may say about a user (ID token and UserInfo, OIDC Core §5.1)."""

    user_id: str
    email: str
    # Frontdesk never confirms addresses, so this stays False unless storage knows better.
    email_verified: bool
    name: str
    space: SpaceRole | None = None


class UserStore(Protocol):
    async def get_user_claims(self, user_id: str, space_id: str | None) -> UserClaims | None:
        """The user's claims, with their role in ``space_id`` when given (no ``space`` if that
        space is gone); None when the user no longer exists."""
        ...


class KeyStore(UserStore, Protocol):
    """What OpenID Connect needs from storage: signing keys (ID tokens, iframe contexts) and,
    through :class:`UserStore`, the claims about the user."""

    async def signing_key(self) -> SigningKeyPair:
        """The newest key that is not retired. When there is none yet, one is created in the
        current transaction (committed with the token it signs)."""
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
        """Add a security event to the audit log (committed with the surrounding work)."""
        ...


class Storage(ClientStore, CodeStore, TokenStore, ConsentStore, RefreshStore, KeyStore, EventStore, Protocol):
    async def commit(self) -> None: ...


class PasswordAuthenticator(Protocol):
    """Checks a person's email and password (Argon2id, capped; see RFC 6749 §4.3)."""

    async def __call__(self, email: str, password: str) -> UserRef | None: ...


class Limiter(Protocol):
    """Rate limits applied before expensive work (RFC 6749 §4.3.2, §2.3.1)."""

    async def retry_after(self, keys: dict[str, str]) -> int | None: ...

    async def failed(self, keys: dict[str, str]) -> None: ...
