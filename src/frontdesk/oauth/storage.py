"""The storage interface the protocol core needs (implemented in :mod:`frontdesk.store`).

Narrow, per-aggregate protocols (cf. fosite's per-grant storage). Writes are staged until
:meth:`Storage.commit`, so consuming a code and issuing its token commit together.
"""

from __future__ import annotations

from typing import Any, Protocol

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


class RefreshStore(Protocol):
    """Refresh tokens: rotation, families, reuse detection (RFC 6749 §6, RFC 9700 §4.14)."""


class KeyStore(Protocol):
    """Signing keys (OpenID Connect, iframe contexts)."""


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
