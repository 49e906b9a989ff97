"""Bearer token usage at the API (RFC 6750).

* §2: the token arrives in the ``Authorization: Bearer`` header (scheme case-insensitive),
  the ``access_token`` form parameter, or the ``access_token`` query parameter; a request that
  uses more than one method is ``invalid_request`` (§2, last paragraph).
* §3: challenges. No token: 401 with ``WWW-Authenticate: Bearer realm=…`` and no error code;
  a bad token: 401 ``invalid_token``; a missing scope: 403 ``insufficient_scope`` with ``scope``.
  Every challenge names the host's protected resource metadata (RFC 9728 §5.1).
* RFC 8707: a token requested for another resource is ``invalid_token`` here (§3.1: "invalid
  for other reasons"; its audience is not this resource).
* RFC 9449 §7: a token bound to a key (``TokenInfo.dpop_jkt``) is good only as
  ``Authorization: DPoP <token>`` with a valid DPoP proof for this request, its ``ath`` and the
  token's key (oauth/dpop.py); sent as a bearer token (header, form or query) it is
  ``invalid_token`` with a ``DPoP`` challenge (§7.1, no downgrade), and so is an unbound token
  sent with the ``DPoP`` scheme. Requests with unbound bearer tokens pay nothing for this: the
  binding is read from the token's :class:`TokenInfo`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from frontdesk.oauth.dpop import DpopTokenError, DpopVerifier
from frontdesk.oauth.errors import (
    InsufficientScope,
    InvalidRequest,
    InvalidToken,
    OAuthError,
    safe_description,
)
from frontdesk.oauth.models import Person, TokenInfo
from frontdesk.oauth.scopes import Catalogue, holds
from frontdesk.oauth.storage import PersonStore, TokenStore

# RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")
MISSING = "A valid access token must be passed as 'Authorization: Bearer <token>' or as access_token."
BEARER = "bearer"
DPOP = "dpop"


@dataclass(frozen=True, slots=True)
class Presentation:
    """How a request presented its token: ``scheme`` is the Authorization scheme (``bearer``
    or ``dpop``; ``bearer`` for the form and query parameters too, RFC 6750 §2.2-2.3); for
    ``dpop``, the request's ``DPoP`` header (several fields joined by commas), method and the
    URLs it may have been sent to (RFC 9449 §4.3 ``htu``)."""

    scheme: str = BEARER
    proof: str | None = None
    method: str = "GET"
    urls: tuple[str, ...] = ()


AS_BEARER = Presentation()


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
        # RFC 9449 §7.1: the DPoP scheme carries the token the same way (token68).
        if scheme.lower() in (BEARER, DPOP):
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


def challenge(
    realm: str,
    error: OAuthError | None = None,
    resource_metadata: str | None = None,
    *,
    dpop_algs: tuple[str, ...] | None = None,
) -> str:
    """The ``WWW-Authenticate`` value for an RFC 6750 §3 error response; ``resource_metadata``
    is the URL of the protected resource metadata (RFC 9728 §5.1). With ``dpop_algs``, the
    ``DPoP`` challenge of RFC 9449 §7.1 instead, naming the proof algorithms (``algs``)."""
    parts = [f"realm={_quote(realm)}"]
    if error is not None and not isinstance(error, MissingToken):
        parts.append(f"error={_quote(error.error)}")
        if error.description:
            parts.append(f"error_description={_quote(safe_description(error.description))}")
        if isinstance(error, InsufficientScope) and error.scope:
            parts.append(f"scope={_quote(error.scope)}")
    if dpop_algs is not None:
        parts.append(f"algs={_quote(' '.join(dpop_algs))}")
    if resource_metadata is not None:
        parts.append(f"resource_metadata={_quote(resource_metadata)}")
    return ("DPoP " if dpop_algs is not None else "Bearer ") + ", ".join(parts)


class NoPerson(InsufficientScope):
    """A client_credentials token (RFC 6749 §4.4) at an endpoint that acts for a person: 403,
    as a token that lacks the rights (RFC 6750 §3.1), never a failed lookup of nobody."""

    def __init__(self, scope: str | None) -> None:
        super().__init__(
            scope or "",
            "this token acts for no person (client_credentials grant); this endpoint needs a "
            "token a person authorized",
        )


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

    def __init__(
        self, catalogue: Catalogue, clock: Callable[[], datetime], dpop: DpopVerifier | None = None
    ) -> None:
        self.catalogue = catalogue
        self.clock = clock
        self.dpop = dpop

    async def validate(
        self,
        raw: str | None,
        store: TokenStore,
        resource: str | None = None,
        presentation: Presentation = AS_BEARER,
    ) -> TokenInfo:
        """The token, live (neither revoked nor expired), when ``resource`` is given meant for
        it (RFC 8707), and presented as its binding requires (RFC 9449 §7), or
        ``invalid_token`` (``invalid_dpop_proof`` for a bad proof)."""
        if raw is None:
            raise MissingToken
        info = await store.lookup_token(raw)
        if info is None:
            raise InvalidToken("the access token is not valid")
        if info.revoked:
            raise InvalidToken("the access token was revoked")
        if info.expires_at is not None and info.expires_at <= self.clock():
            raise InvalidToken("the access token expired")
        # RFC 8707: a token without audience is good at every host (oauth/resource.py).
        if info.audience is not None and resource is not None and info.audience != resource:
            raise InvalidToken("the access token is meant for another resource")
        if info.dpop_jkt is not None or presentation.scheme == DPOP:
            await self.check_binding(raw, info, presentation)
        return info

    async def check_binding(self, raw: str, info: TokenInfo, presentation: Presentation) -> None:
        """RFC 9449 §7.1: a bound token only with the DPoP scheme and a proof of its key; the
        DPoP scheme only with a bound token."""
        if info.dpop_jkt is None:
            raise DpopTokenError(
                "this access token is not bound to a key: send it as 'Authorization: Bearer <token>'"
            )
        if presentation.scheme != DPOP:
            raise DpopTokenError(
                "this access token is bound to a key: send it as 'Authorization: DPoP <token>' "
                "with a DPoP proof"
            )
        if self.dpop is None:
            raise DpopTokenError("this server does not accept DPoP-bound tokens")
        await self.dpop.verify(
            presentation.proof,
            method=presentation.method,
            urls=presentation.urls,
            access_token=raw,
            bound_jkt=info.dpop_jkt,
            at_resource=True,
        )

    async def authenticate(
        self,
        raw: str | None,
        store: BearerStore,
        scope: str | None = None,
        resource: str | None = None,
        presentation: Presentation = AS_BEARER,
    ) -> Bearer:
        """A valid token holding ``scope`` (when given) for ``resource`` (when given), and who
        it acts for."""
        info = await self.validate(raw, store, resource, presentation)
        if info.user_id is None:
            raise NoPerson(scope)
        person = await store.acting_person(info)
        if person is None:
            raise InvalidToken("the token's user or space no longer exists")
        store.note_token_use(info.id)
        if scope is not None:
            self.require_scope(info, scope)
        return Bearer(token=info, person=person)

    def require_scope(self, info: TokenInfo, scope: str) -> None:
        # The token's stored scopes, with only the built-in umbrellas expanded: the scope
        # file's umbrellas were expanded when the token was granted (oauth/scopes.py).
        if not holds(info.scopes, scope):
            raise InsufficientScope(scope)
