"""Bearer token usage at the API (RFC 6750).

* §2: the token arrives in the ``Authorization: Bearer`` header (scheme case-insensitive),
  the ``access_token`` form parameter, or the ``access_token`` query parameter; a request that
  uses more than one method is ``invalid_request`` (§2, last paragraph).
* §3: challenges. No token: 401 with ``WWW-Authenticate: Bearer realm=…`` and no error code;
  a bad token: 401 ``invalid_token``; a missing scope: 403 ``insufficient_scope`` with ``scope``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from frontdesk.oauth.errors import (
    InsufficientScope,
    InvalidRequest,
    InvalidToken,
    OAuthError,
    safe_description,
)
from frontdesk.oauth.models import Person, TokenInfo
from frontdesk.oauth.scopes import Catalogue
from frontdesk.oauth.storage import PersonStore, TokenStore

# RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")
MISSING = "A valid access token must be passed as 'Authorization: Bearer <token>' or as access_token."


class MissingToken(InvalidToken):
    """No credentials at all: the challenge carries no error code (§3.1)."""

    def __init__(self) -> None:
        super().__init__(MISSING)


def extract_token(
    authorization: str | None,
    query: tuple[tuple[str, str], ...],
    form: tuple[tuple[str, str], ...] = (),
) -> str | None:
    found: list[str] = []
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer":
            value = value.strip()
            if not value or not _B64TOKEN.match(value):
                raise InvalidRequest("malformed Authorization header")
            found.append(value)
    found += [v for k, v in query if k == "access_token"]
    found += [v for k, v in form if k == "access_token"]
    if len(found) > 1:
        raise InvalidRequest("send the access token one way only (header, form or query), and only once")
    if found and not found[0]:
        raise InvalidRequest("empty access_token")
    return found[0] if found else None


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def challenge(realm: str, error: OAuthError | None = None) -> str:
    """The ``WWW-Authenticate`` value for an RFC 6750 §3 error response."""
    parts = [f"realm={_quote(realm)}"]
    if error is not None and not isinstance(error, MissingToken):
        parts.append(f"error={_quote(error.error)}")
        if error.description:
            parts.append(f"error_description={_quote(safe_description(error.description))}")
        if isinstance(error, InsufficientScope):
            parts.append(f"scope={_quote(error.scope)}")
    return "Bearer " + ", ".join(parts)


class BearerStore(TokenStore, PersonStore, Protocol):
    """What validating a bearer token reads."""


@dataclass(frozen=True, slots=True)
class Bearer:
    """A valid access token and the person it acts for (see
    :meth:`frontdesk.oauth.storage.PersonStore.acting_person`)."""

    token: TokenInfo
    person: Person


class BearerValidator:
    """Turns a presented token into a :class:`Bearer` (RFC 6750 §3.1 errors otherwise)."""

    def __init__(self, catalogue: Catalogue, clock: Callable[[], datetime]) -> None:
        self.catalogue = catalogue
        self.clock = clock

    async def validate(self, raw: str | None, store: TokenStore) -> TokenInfo:
        """The token, live (neither revoked nor expired), or ``invalid_token``."""
        if raw is None:
            raise MissingToken
        info = await store.lookup_token(raw)
        if info is None:
            raise InvalidToken("the access token is not valid")
        if info.revoked:
            raise InvalidToken("the access token was revoked")
        if info.expires_at is not None and info.expires_at <= self.clock():
            raise InvalidToken("the access token expired")
        return info

    async def authenticate(self, raw: str | None, store: BearerStore, scope: str | None = None) -> Bearer:
        """A valid token holding ``scope`` (when given), and who it acts for."""
        info = await self.validate(raw, store)
        person = await store.acting_person(info)
        if person is None:
            raise InvalidToken("the token's user or space no longer exists")
        store.note_token_use(info.id)
        if scope is not None:
            self.require_scope(info, scope)
        return Bearer(token=info, person=person)

    def require_scope(self, info: TokenInfo, scope: str) -> None:
        if scope not in self.catalogue.expand(info.scopes):
            raise InsufficientScope(scope)
