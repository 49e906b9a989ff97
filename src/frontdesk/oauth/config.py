"""Protocol settings the core needs, independent of how the server is configured."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class OAuthConfig:
    # RFC 6749 §4.1.2: codes live at most 10 minutes; we default to 60 s.
    code_ttl_seconds: int = 60
    # Reject token-endpoint parameters in the query string and require redirect_uri at the
    # token endpoint whenever the authorization request had one (docs/decisions.md §2 and §7).
    strict: bool = False
    password_grant_enabled: bool = True
    # FRONTDESK_REQUIRE_VERIFIED_EMAIL: no authorization for a person whose address is not verified.
    require_verified_email: bool = False
    # FRONTDESK_REQUIRE_PAR: every app's authorization requests only through PAR (RFC 9126 §6).
    require_par: bool = False
    clock: Callable[[], datetime] = field(default=utcnow)
