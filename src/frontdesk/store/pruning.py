"""Deleting rows that can no longer have any effect (``frontdesk db prune``,
docs/operations.md "Pruning").

Nothing here is on a request's path: codes, tokens and sessions are marked consumed, revoked
or expired when they end (store/revocation.py: "never deleted"), and this removes them once
they have been dead for the grace period the caller chooses. What decides "no longer any
effect" for each table is written next to its rule in :func:`rules`; the rules that matter:

- An authorization code stays while the browser session it was issued in is alive: the
  apps a session signed in to are those of its codes, for back-channel logout
  (store/session_apps.py). Tokens issued from a deleted code keep working (``code_id`` is set
  to NULL by the foreign key); a replay of the code after it is gone is refused as an unknown
  code instead of also revoking those tokens (RFC 6749 §4.1.2 asks for that "when possible").
- A refresh token stays while its family has a live member: presenting a rotated one again
  revokes the family (RFC 9700 §4.14.2), so the rotated ones are the reuse detector.
- An access token stays while a token derived from it (a refreshed or space token, by
  ``parent_id``) exists: revoking it must still reach them.
- Outbox rows (webhooks, email) go only once delivered, after their own retention: they are
  the delivery log. Pending and failed ones stay.
- Audit events go only when the caller gives an audit retention (none by default).

Rows are deleted in batches of :data:`BATCH`, each in its own transaction, so a running
server's writers wait for one batch at most. This is maintenance over every space's rows alike,
not a tenant query: no :class:`~frontdesk.store.scoping.SpaceScope` applies.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from frontdesk.store.db import Database
from frontdesk.store.models import (
    AccessToken,
    AuditEvent,
    AuthorizationCode,
    DeviceAuthorization,
    EmailLink,
    EmailMessage,
    Invitation,
    LoginSession,
    PushedAuthorizationRequest,
    RefreshToken,
    WebAuthnChallenge,
    WebhookMessage,
)

BATCH = 5000


@dataclass(frozen=True)
class Cutoffs:
    """``now``; rows dead before ``dead_before`` go; delivered outbox rows sent before
    ``delivered_before``; audit events made before ``audit_before`` (None: kept)."""

    now: datetime
    dead_before: datetime
    delivered_before: datetime
    audit_before: datetime | None = None


@dataclass(frozen=True)
class Rule:
    name: str  # what the operator reads (the table)
    model: type[Any]
    condition: ColumnElement[bool]

    @property
    def key(self) -> Any:
        return self.model.__mapper__.primary_key[0]


def _dead(*ended: Any, cutoff: datetime) -> ColumnElement[bool]:
    """Any of the moments ``ended`` (nullable columns) lies before ``cutoff``."""
    return or_(*(column < cutoff for column in ended))


def rules(c: Cutoffs) -> list[Rule]:
    live_session = (
        select(LoginSession.id)
        .where(
            LoginSession.public_id == AuthorizationCode.sid,
            LoginSession.revoked_at.is_(None),
            LoginSession.expires_at > c.now,
        )
        .correlate(AuthorizationCode)
    )
    child = aliased(AccessToken)
    family_member = aliased(RefreshToken)
    live_family_member = (
        select(family_member.id)
        .where(
            family_member.family_id == RefreshToken.family_id,
            family_member.rotated_at.is_(None),
            family_member.revoked_at.is_(None),
            or_(family_member.expires_at.is_(None), family_member.expires_at > c.now),
        )
        .correlate(RefreshToken)
    )
    found = [
        Rule(
            "sessions",
            LoginSession,
            _dead(LoginSession.expires_at, LoginSession.revoked_at, cutoff=c.dead_before),
        ),
        Rule(
            "authorization_codes",
            AuthorizationCode,
            and_(
                AuthorizationCode.expires_at < c.dead_before,
                or_(AuthorizationCode.sid.is_(None), ~exists(live_session)),
            ),
        ),
        Rule(
            "pushed_authorization_requests",
            PushedAuthorizationRequest,
            PushedAuthorizationRequest.expires_at < c.dead_before,
        ),
        Rule(
            "access_tokens",
            AccessToken,
            and_(
                _dead(AccessToken.expires_at, AccessToken.revoked_at, cutoff=c.dead_before),
                ~exists(select(child.id).where(child.parent_id == AccessToken.id).correlate(AccessToken)),
            ),
        ),
        Rule(
            "refresh_tokens",
            RefreshToken,
            and_(
                _dead(
                    RefreshToken.expires_at,
                    RefreshToken.rotated_at,
                    RefreshToken.revoked_at,
                    cutoff=c.dead_before,
                ),
                ~exists(live_family_member),
            ),
        ),
        Rule(
            "device_authorizations",
            DeviceAuthorization,
            DeviceAuthorization.expires_at < c.dead_before,
        ),
        Rule(
            "email_links",
            EmailLink,
            _dead(EmailLink.expires_at, EmailLink.used_at, cutoff=c.dead_before),
        ),
        Rule(
            "invitations",
            Invitation,
            # Accepted invitations stay: they say who invited a member.
            and_(
                Invitation.accepted_at.is_(None),
                _dead(Invitation.expires_at, Invitation.revoked_at, cutoff=c.dead_before),
            ),
        ),
        Rule(
            "webauthn_challenges",
            WebAuthnChallenge,
            WebAuthnChallenge.expires_at < c.dead_before,
        ),
        Rule(
            "webhook_messages",
            WebhookMessage,
            and_(WebhookMessage.status == "delivered", WebhookMessage.delivered_at < c.delivered_before),
        ),
        Rule(
            "email_messages",
            EmailMessage,
            and_(EmailMessage.status == "sent", EmailMessage.sent_at < c.delivered_before),
        ),
    ]
    if c.audit_before is not None:
        found.append(Rule("audit_events", AuditEvent, AuditEvent.created_at < c.audit_before))
    return found


async def count(db: AsyncSession, rule: Rule) -> int:
    """How many rows ``rule`` would delete now."""
    statement = select(func.count()).select_from(rule.model).where(rule.condition)
    return int((await db.execute(statement)).scalar_one())


async def delete_batch(db: AsyncSession, rule: Rule) -> int:
    """Delete up to :data:`BATCH` rows of ``rule`` in ``db``'s transaction; how many went."""
    keys = select(rule.key).where(rule.condition).limit(BATCH).scalar_subquery()
    result: Any = await db.execute(
        delete(rule.model).where(rule.key.in_(keys)).execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


async def prune(database: Database, cutoffs: Cutoffs, *, dry_run: bool = False) -> dict[str, int]:
    """Rows deleted per table (with ``dry_run``: that would be deleted), each batch in a unit
    of work of its own, committed as it goes."""

    async def transaction(step: Callable[[AsyncSession], Awaitable[int]]) -> int:
        async with database.unit_of_work() as uow:
            done = await step(uow.session)
            await uow.commit()
            return done

    done: dict[str, int] = {}
    for rule in rules(cutoffs):
        if dry_run:
            done[rule.name] = await transaction(partial(count, rule=rule))
            continue
        total = 0
        while True:
            deleted = await transaction(partial(delete_batch, rule=rule))
            total += deleted
            if deleted < BATCH:
                break
        done[rule.name] = total
    return done
