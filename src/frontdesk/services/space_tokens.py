"""Space tokens (Cobot's ``POST /api/access_tokens/<token>/space``): a user token of a space's
admin traded for a token bound to that space, with the same app and scope.

This service finds the space the route names (by id or subdomain) and the token's app; the
protocol core decides and issues (:mod:`frontdesk.oauth.space_tokens`, shared with token
exchange, RFC 8693), through the same :class:`frontdesk.oauth.tokens.TokenIssuer` as every
other token. Its refusals become this layer's errors, with the route's words unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.errors import FieldError, Forbidden, NotFound
from frontdesk.i18n import N_
from frontdesk.oauth import space_tokens as core
from frontdesk.oauth.models import TokenInfo
from frontdesk.oauth.storage import Storage
from frontdesk.oauth.tokens import TokenIssuer
from frontdesk.records import SpaceRef
from frontdesk.services import spaces

GRANT_TYPE = core.GRANT_TYPE


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
    :class:`Forbidden` (not an admin there, or a token acting for no person)."""
    try:
        core.check_subject(token)
        space = await spaces.get_by_id_or_subdomain(db, space_ref)
        client = await storage.get_client(token.client_id)
        if client is None:
            raise NotFound("the token's app no longer exists")
        made = await core.issue_space_token(
            storage, issuer, client, token, space.id if space is not None else None, ip=ip
        )
    except core.SpaceTokenRefused as exc:
        if exc.reason is core.Refusal.ALREADY_SPACE_TOKEN:
            raise FieldError("token", N_("this is already a space token; use a user token")) from exc
        if exc.reason is core.Refusal.NO_SPACE:
            raise NotFound(exc.message) from exc
        raise Forbidden(exc.message) from exc
    assert space is not None
    return SpaceToken(raw=made.raw, token_id=made.token_id, space=space)
