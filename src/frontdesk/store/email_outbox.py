"""The email outbox (docs/guide.md, "Accounts").

**Writing.** :func:`enqueue` adds one ``email_messages`` row in the caller's transaction: the
message exists exactly when the change that sends it (a sign-up, a reset request) is
committed, and a slow or unreachable mail server never holds up the request. The template's
values, which hold the one-time link, are sealed with the server secret and bound to the
row's id (``ServerSecret.encrypt``); the link's token itself is stored only as a digest
(``email_links``).

**Sending** (the worker, :mod:`frontdesk.email_worker`, commits its own work like the webhook
worker): :func:`claim` leases due messages (``SELECT … FOR UPDATE SKIP LOCKED`` on
PostgreSQL, and on every database a conditional update of ``claimed_until``), so one sender
at a time works on one message; every outcome is committed at once.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.security.randoms import new_id
from frontdesk.security.server_secret import ServerSecret
from frontdesk.store.models import EmailMessage
from frontdesk.store.types import utcnow

log = logging.getLogger("frontdesk.email")
PENDING: Final = "pending"
SENT: Final = "sent"
FAILED: Final = "failed"
# Execution options of the worker's writes: no cached read depends on the outbox.
QUIET: Final = {"frontdesk_no_invalidation": True}


def _context_binding(message_id: str) -> str:
    return f"email-message|{message_id}"


async def enqueue(
    db: AsyncSession, server_secret: ServerSecret, *, to: str, template: str, context: dict[str, Any]
) -> str:
    """Stage one message to ``to`` (sent after the caller commits); returns its id."""
    message_id = new_id()
    now = utcnow()
    db.add(
        EmailMessage(
            id=message_id,
            to_address=to,
            template=template,
            context_sealed=server_secret.encrypt(json.dumps(context), _context_binding(message_id)),
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    await db.flush()
    return message_id


@dataclass(frozen=True, slots=True)
class Outgoing:
    id: str
    to: str
    template: str
    context: dict[str, Any]
    attempts: int
    created_at: datetime


async def claim(
    db: AsyncSession, server_secret: ServerSecret, *, now: datetime, lease: timedelta, limit: int
) -> list[Outgoing]:
    """Lease up to ``limit`` due messages, oldest first, and commit."""
    free = or_(EmailMessage.claimed_until.is_(None), EmailMessage.claimed_until < now)
    due = (EmailMessage.status == PENDING) & (EmailMessage.next_attempt_at <= now)
    query = select(EmailMessage).where(due, free).order_by(EmailMessage.created_at).limit(limit)
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = (await db.execute(query)).scalars().all()
    claimed = []
    for row in rows:
        result = await db.execute(
            update(EmailMessage)
            .where(EmailMessage.id == row.id, due, free)
            .values(claimed_until=now + lease),
            execution_options=QUIET,
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            continue
        try:
            context = json.loads(server_secret.decrypt(row.context_sealed, _context_binding(row.id)))
        except (InvalidTag, ValueError):
            # Sealed with another server secret: it can never be sent; give it up at once
            # rather than fail every round.
            await db.execute(
                update(EmailMessage)
                .where(EmailMessage.id == row.id)
                .values(
                    status=FAILED, claimed_until=None, last_error="cannot unseal (the server secret changed)"
                ),
                execution_options=QUIET,
            )
            log.error("email %s given up: sealed with another server secret", row.id)
            continue
        claimed.append(Outgoing(row.id, row.to_address, row.template, context, row.attempts, row.created_at))
    await db.commit()
    return claimed


async def record_sent(db: AsyncSession, message: Outgoing, now: datetime) -> None:
    """Mark the message sent and drop its sealed values (the link): the row stays as a log."""
    await db.execute(
        update(EmailMessage)
        .where(EmailMessage.id == message.id)
        .values(
            status=SENT,
            context_sealed="",
            attempts=message.attempts + 1,
            last_attempt_at=now,
            sent_at=now,
            claimed_until=None,
            last_error=None,
        ),
        execution_options=QUIET,
    )
    await db.commit()


async def record_failure(
    db: AsyncSession, message: Outgoing, *, now: datetime, error: str, retry_at: datetime | None
) -> None:
    """Note a failed attempt: retry at ``retry_at``, or give the message up (None); commits."""
    await db.execute(
        update(EmailMessage)
        .where(EmailMessage.id == message.id)
        .values(
            status=PENDING if retry_at is not None else FAILED,
            attempts=message.attempts + 1,
            last_attempt_at=now,
            next_attempt_at=retry_at or now,
            claimed_until=None,
            last_error=error[:500],
        ),
        execution_options=QUIET,
    )
    await db.commit()
