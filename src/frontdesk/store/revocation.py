"""Revoking grants: the one implementation of
:meth:`frontdesk.oauth.storage.GrantStore.revoke_grant`.

Every path that takes tokens back comes here: RFC 7009 revocation, a replayed code, a reused
refresh token, ``DELETE /api/access_tokens/<t>``, a person revoking an app, a space admin
revoking an app's space tokens, an app owner revoking the test token, an app deleted.

A selection starts from access tokens and refresh families; the refresh families of the
selected access tokens join it (revoking one token of a family revokes the family, RFC 9700
§4.14.2), and with ``descendants`` every token derived from a revoked one by its parent
(refreshed tokens, space tokens) joins it too, transitively. Rows are marked revoked, never
deleted; sealed copies (the owner's test token) are forgotten.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.oauth.storage import (
    AppGrants,
    CodeGrant,
    FamilyGrant,
    GrantSelector,
    RevokedGrant,
    SpaceAppGrant,
    TokenGrant,
    UserAppGrant,
)
from frontdesk.store.models import AccessToken, AuthorizationCode, Consent, RefreshToken
from frontdesk.store.scoping import SpaceScope
from frontdesk.store.types import utcnow

# How many generations of derived tokens are followed (refresh chains are linked by parent).
MAX_DEPTH = 1000
CHUNK = 500


def _chunks(values: Iterable[str]) -> list[list[str]]:
    items = sorted(set(values))
    return [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]


async def _families_of_tokens(db: AsyncSession, token_ids: set[str]) -> set[str]:
    families: set[str] = set()
    for chunk in _chunks(token_ids):
        rows = await db.execute(
            select(AccessToken.family_id).where(AccessToken.id.in_(chunk), AccessToken.family_id.is_not(None))
        )
        families.update(f for f in rows.scalars() if f is not None)
    return families


async def _select(
    db: AsyncSession, grant: GrantSelector
) -> tuple[set[str], set[str], ColumnElement[bool] | None]:
    """The access token ids and refresh families a selector names directly, and a condition
    on refresh tokens it names directly (for selectors by user or app)."""
    if isinstance(grant, TokenGrant):
        return {grant.token_id}, set(), None
    if isinstance(grant, FamilyGrant):
        return set(), {grant.family_id}, None
    if isinstance(grant, CodeGrant):
        tokens = set(
            (await db.execute(select(AccessToken.id).where(AccessToken.code_id == grant.code_id))).scalars()
        )
        families = set(
            (
                await db.execute(select(RefreshToken.family_id).where(RefreshToken.code_id == grant.code_id))
            ).scalars()
        )
        return tokens, families, None
    if isinstance(grant, UserAppGrant):
        stmt = select(AccessToken.id).where(
            AccessToken.user_id == grant.user_id,
            AccessToken.app_id == grant.client_id,
            AccessToken.space_id.is_(None),
            AccessToken.revoked_at.is_(None),
        )
        refresh = (
            (RefreshToken.user_id == grant.user_id)
            & (RefreshToken.app_id == grant.client_id)
            & RefreshToken.space_id.is_(None)
        )
        return set((await db.execute(stmt)).scalars()), set(), refresh
    if isinstance(grant, SpaceAppGrant):
        stmt = (
            SpaceScope(grant.space_id)
            .select(AccessToken)
            .with_only_columns(AccessToken.id)
            .where(AccessToken.app_id == grant.client_id, AccessToken.revoked_at.is_(None))
        )
        return set((await db.execute(stmt)).scalars()), set(), None
    if isinstance(grant, AppGrants):
        stmt = select(AccessToken.id).where(
            AccessToken.app_id == grant.client_id, AccessToken.revoked_at.is_(None)
        )
        return set((await db.execute(stmt)).scalars()), set(), RefreshToken.app_id == grant.client_id
    raise TypeError(f"not a grant selector: {grant!r}")


async def _revoke_access(
    db: AsyncSession, token_ids: set[str], families: set[str], now: datetime
) -> list[str]:
    revoked: list[str] = []
    for chunk in _chunks(token_ids):
        result = await db.execute(
            update(AccessToken)
            .where(AccessToken.id.in_(chunk), AccessToken.revoked_at.is_(None))
            .values(revoked_at=now, sealed=None)
            .returning(AccessToken.id)
        )
        revoked += result.scalars().all()
    for chunk in _chunks(families):
        result = await db.execute(
            update(AccessToken)
            .where(AccessToken.family_id.in_(chunk), AccessToken.revoked_at.is_(None))
            .values(revoked_at=now, sealed=None)
            .returning(AccessToken.id)
        )
        revoked += result.scalars().all()
    return revoked


async def _revoke_refresh(
    db: AsyncSession, families: set[str], condition: ColumnElement[bool] | None, now: datetime
) -> int:
    count = 0
    for chunk in _chunks(families):
        result = await db.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id.in_(chunk), RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        count += int(result.rowcount or 0)  # type: ignore[attr-defined]
    if condition is not None:
        result = await db.execute(
            update(RefreshToken).where(condition, RefreshToken.revoked_at.is_(None)).values(revoked_at=now)
        )
        count += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return count


async def _children(db: AsyncSession, parents: set[str]) -> set[str]:
    """Every token derived from one of ``parents``, revoked already or not (a revoked token
    may still have live descendants)."""
    found: set[str] = set()
    for chunk in _chunks(parents):
        rows = await db.execute(select(AccessToken.id).where(AccessToken.parent_id.in_(chunk)))
        found.update(rows.scalars())
    return found


async def _tokens_of_families(db: AsyncSession, families: set[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(families):
        rows = await db.execute(select(AccessToken.id).where(AccessToken.family_id.in_(chunk)))
        found.update(rows.scalars())
    return found


async def revoke_grant(db: AsyncSession, grant: GrantSelector, *, descendants: bool = False) -> RevokedGrant:
    """Stage the revocation of ``grant`` in ``db`` (see the module docstring)."""
    now = utcnow()
    token_ids, families, refresh_condition = await _select(db, grant)
    families |= await _families_of_tokens(db, token_ids)
    revoked = await _revoke_access(db, token_ids, families, now)
    refresh = await _revoke_refresh(db, families, refresh_condition, now)
    if descendants:
        # From every token of the selection, revoked before or now: a family revoked earlier
        # (RFC 7009 revocation takes no descendants) still leads to the tokens derived from it.
        seen = token_ids | await _tokens_of_families(db, families)
        frontier = set(seen)
        for _ in range(MAX_DEPTH):
            children = await _children(db, frontier) - seen
            if not children:
                break
            child_families = await _families_of_tokens(db, children) - families
            families |= child_families
            revoked += await _revoke_access(db, children, child_families, now)
            refresh += await _revoke_refresh(db, child_families, None, now)
            frontier = children | await _tokens_of_families(db, child_families)
            seen |= frontier
    codes = consents = 0
    if isinstance(grant, UserAppGrant | AppGrants):
        # A code handed out just before must not turn into a token after this.
        code_filter = AuthorizationCode.app_id == grant.client_id
        consent_filter = Consent.app_id == grant.client_id
        if isinstance(grant, UserAppGrant):
            code_filter = code_filter & (AuthorizationCode.user_id == grant.user_id)
            consent_filter = consent_filter & (Consent.user_id == grant.user_id)
        result = await db.execute(
            update(AuthorizationCode)
            .where(code_filter, AuthorizationCode.consumed_at.is_(None), AuthorizationCode.expires_at > now)
            .values(expires_at=now)
        )
        codes = int(result.rowcount or 0)  # type: ignore[attr-defined]
        result = await db.execute(delete(Consent).where(consent_filter))
        consents = int(result.rowcount or 0)  # type: ignore[attr-defined]
    return RevokedGrant(
        access_token_ids=tuple(dict.fromkeys(revoked)), refresh_tokens=refresh, codes=codes, consents=consents
    )
