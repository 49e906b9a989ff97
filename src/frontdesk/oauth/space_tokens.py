"""Space tokens: a user token of a space's admin traded for a token bound to that space, with
the same app and scope (or less of it). The one decision behind both ways to ask for one:
Cobot's ``POST /api/access_tokens/<token>/space`` (services/space_tokens.py finds the space
named by id or subdomain) and token exchange (RFC 8693, oauth/grants/token_exchange.py, the
space named by ``resource`` or ``audience``; ../shared/reference/README.md decision 13).

The rules:

* the subject is a user token: not a space token already, and acting for a person (a
  client_credentials token has none);
* that person is an admin of the space, now;
* the scope is the subject's, or a part of it: never wider (token exchange may ask for less);
* the token never expires, even for apps whose user tokens do (it cannot be refreshed, only
  exchanged again), keeps the subject's issuer and audience (RFC 8707: a token for one
  resource never yields a token for more), and is linked to the subject as its parent (a
  revocation with descendants, e.g. a reused refresh token, takes it too). It is not in the
  subject's refresh family: a space token is an installation credential of the space and
  outlives the user token and its creator's admin role (it then acts for the space's owner,
  :meth:`frontdesk.oauth.storage.PersonStore.acting_person`).

Issued through :class:`frontdesk.oauth.tokens.TokenIssuer`, without response extras (no
refresh token, no ID token), like every token.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from frontdesk.oauth.models import Client, SpaceRole, TokenInfo
from frontdesk.oauth.storage import Storage
from frontdesk.oauth.tokens import Issued, IssueRequest, TokenIssuer

GRANT_TYPE = "space"


class Refusal(Enum):
    """Why no space token is made (each caller answers in its own terms)."""

    ALREADY_SPACE_TOKEN = "already_space_token"
    NO_PERSON = "no_person"
    NO_SPACE = "no_space"
    NOT_ADMIN = "not_admin"


MESSAGES = {
    Refusal.ALREADY_SPACE_TOKEN: "this is already a space token; use a user token",
    Refusal.NO_PERSON: "a token that acts for no person (client_credentials) cannot create a space token",
    Refusal.NO_SPACE: "no such space",
    Refusal.NOT_ADMIN: "only an admin of the space can create a space token",
}


class SpaceTokenRefused(Exception):
    def __init__(self, reason: Refusal) -> None:
        super().__init__(MESSAGES[reason])
        self.reason = reason
        self.message = MESSAGES[reason]


@dataclass(frozen=True)
class SpaceToken:
    issued: Issued
    space: SpaceRole

    @property
    def raw(self) -> str:
        return self.issued.raw

    @property
    def token_id(self) -> str:
        return self.issued.token_id


def check_subject(token: TokenInfo) -> None:
    """Raises :class:`SpaceTokenRefused` unless ``token`` may become a space token at all."""
    if token.space_id is not None:
        raise SpaceTokenRefused(Refusal.ALREADY_SPACE_TOKEN)
    if token.user_id is None:
        raise SpaceTokenRefused(Refusal.NO_PERSON)


async def issue_space_token(
    storage: Storage,
    issuer: TokenIssuer,
    client: Client,
    token: TokenInfo,
    space_id: str | None,
    *,
    ip: str = "",
    scopes: tuple[str, ...] | None = None,
    act: str | None = None,
) -> SpaceToken:
    """A space token of ``client`` (the subject token's app) for the space ``space_id`` (None:
    the caller found no such space), with ``scopes`` (a part of the subject's; None: all of
    them) and the delegation ``act`` (oauth/delegation.py). Raises :class:`SpaceTokenRefused`."""
    check_subject(token)
    assert token.user_id is not None
    if scopes is not None and not set(scopes) <= set(token.scopes):
        raise ValueError("a space token never holds more than its subject token")
    if space_id is None:
        raise SpaceTokenRefused(Refusal.NO_SPACE)
    role = await storage.space_role(space_id, token.user_id)
    if role is None:
        raise SpaceTokenRefused(Refusal.NO_SPACE)
    if role.role != "admin":
        raise SpaceTokenRefused(Refusal.NOT_ADMIN)
    issued = await issuer.without_extras().issue(
        storage,
        IssueRequest(
            client=client,
            user_id=token.user_id,
            scopes=token.scopes if scopes is None else scopes,
            grant_type=GRANT_TYPE,
            space_id=space_id,
            parent_id=token.id,
            issuer=token.issuer or "",
            expiring=False,
            ip=ip,
            # RFC 8707: a token for one resource never yields a token for more.
            audience=token.audience,
            act=act,
        ),
    )
    return SpaceToken(issued=issued, space=role)
