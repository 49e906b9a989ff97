"""Space tokens (Cobot's ``POST /api/access_tokens/<token>/space``): a user token of a space's
admin traded for a token bound to that space, with the same app and scope.

Space tokens are installation credentials: they never expire, even for apps whose user tokens
do (they cannot be refreshed, only exchanged again), and they outlive their creator's admin
role (they then act for the space's owner, see
:meth:`frontdesk.oauth.storage.PersonStore.acting_person`). They are issued by the same
:class:`frontdesk.oauth.tokens.TokenIssuer` as every other token.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.errors import FieldError, Forbidden, NotFound
from frontdesk.i18n import N_
from frontdesk.oauth.models import TokenInfo
from frontdesk.oauth.storage import Storage
from frontdesk.oauth.tokens import IssueRequest, TokenIssuer
from frontdesk.records import SpaceRef
from frontdesk.services import spaces

GRANT_TYPE = "space"


@dataclass(frozen=True)
class SpaceToken:
    raw: str
    token_id: str
    space: SpaceRef


async def issue_space_token(
    db: AsyncSession, storage: Storage, issuer: TokenIssuer, token: TokenInfo, space_ref: str, *, ip: str = ""
) -> SpaceToken:
    """A space token for ``token``'s app and scope in the space named by id or subdomain.
    Raises :class:`FieldError` (a space token already), :class:`NotFound` (no such space) or
    :class:`Forbidden` (not an admin there)."""
    if token.space_id is not None:
        raise FieldError("token", N_("this is already a space token; use a user token"))
    if token.user_id is None:
        raise Forbidden("a token that acts for no person (client_credentials) cannot create a space token")
    space = await spaces.get_by_id_or_subdomain(db, space_ref)
    if space is None:
        raise NotFound("no such space")
    membership = await spaces.membership_of(db, space.id, token.user_id)
    if membership is None or not membership.is_admin:
        raise Forbidden("only an admin of the space can create a space token")
    client = await storage.get_client(token.client_id)
    if client is None:
        raise NotFound("the token's app no longer exists")
    issued = await issuer.issue(
        storage,
        IssueRequest(
            client=client,
            user_id=token.user_id,
            scopes=token.scopes,
            grant_type=GRANT_TYPE,
            space_id=space.id,
            parent_id=token.id,
            issuer=token.issuer or "",
            expiring=False,
            ip=ip,
            # RFC 8707: a token for one resource never yields a token for more.
            audience=token.audience,
        ),
    )
    return SpaceToken(raw=issued.raw, token_id=issued.token_id, space=space)
