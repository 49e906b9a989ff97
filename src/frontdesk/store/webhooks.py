"""The webhook outbox (docs/integrating.md, "Webhooks").

**Writing.** :func:`stage_event` is called by the one recorder of audit events
(:func:`frontdesk.store.audit_storage.record_event`) for every event that has a webhook type
(:data:`frontdesk.events.WEBHOOK_TYPES`). It stages one ``webhook_messages`` row per matching
endpoint as a deferred insert in the caller's transaction: the message exists exactly when
the change it reports was committed. A subscription made with one of Cobot's narrower names
(:data:`COBOT_EVENTS`, stored as ``subscribed_as``) is matched here too, by :meth:`Route.wants`:
one routing path for every endpoint. Which endpoints want which type is a cached read
(:data:`frontdesk.store.caching.WEBHOOKS`): with no endpoint for a type, recording an event
costs no query.

**Sending** (the worker, :mod:`frontdesk.webhook_worker`, commits its own work like the
store's other background jobs): :func:`claim_endpoints` leases endpoints whose oldest pending
message is due (``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, and on every database a
conditional update of ``claimed_until``), so one sender at a time works through one endpoint,
oldest first: message N+1 is never sent while N waits for its retry.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, Final, cast

from sqlalchemy import Table, and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.events import WEBHOOK_EVENT_TYPES as EVENT_TYPES
from frontdesk.store.deferred import defer_insert
from frontdesk.store.models import Consent, Membership, Space, WebhookEndpoint, WebhookMessage

ALL: Final = "*"
PENDING: Final = "pending"
DELIVERED: Final = "delivered"
FAILED: Final = "failed"
INSERT_MESSAGE = insert(cast(Table, WebhookMessage.__table__))
# Execution options of the worker's writes to endpoints that change no route (leases, failures).
QUIET: Final = {"frontdesk_no_invalidation": True}


def new_message_id() -> str:
    """A ``webhook-id`` (Standard Webhooks: unique per message, the same on every retry)."""
    return "msg_" + secrets.token_hex(16)


@dataclass(frozen=True, slots=True)
class CobotEvent:
    """What one of Cobot's subscription event names means here: an event type, narrowed to
    ``membership.changed`` events whose ``detail.change`` is ``change``, or (``connected``) to
    events about a person connected to the subscribing app in the subscription's space
    (:func:`connections_of`: what ``GET <space>/api/users/<id>`` serves that app)."""

    event_type: str
    change: str | None = None
    connected: bool = False


# Cobot's subscription event names (its webhooks API) that Frontdesk can honour; any other
# Cobot name is refused (docs/compatibility.md). A subscription stores the name it was made
# with (``webhook_endpoints.subscribed_as``) and :class:`Route` narrows by it.
COBOT_EVENTS: Final[Mapping[str, CobotEvent]] = MappingProxyType(
    {
        "created_membership": CobotEvent("membership.created"),
        "updated_membership_details": CobotEvent("membership.changed"),
        "confirmed_membership": CobotEvent("membership.changed", change="confirmed"),
        "canceled_membership": CobotEvent("membership.changed", change="canceled"),
        "deleted_membership": CobotEvent("membership.removed"),
        "connected_user": CobotEvent("consent.granted"),
        "updated_connected_user": CobotEvent("user.updated", connected=True),
    }
)


@dataclass(frozen=True, slots=True)
class Connections:
    """Where one person is connected: the spaces they are a member of, and (space, app) for each
    app they approved on a space's host (a consent there: Cobot's ``connected_user``)."""

    member_of: frozenset[str]
    approved: frozenset[tuple[str, str]]

    def link(self, space_id: str | None, app_id: str | None) -> bool:
        """Whether the person is connected to the app in the space."""
        return space_id is not None and (space_id in self.member_of or (space_id, app_id) in self.approved)


async def connections_of(db: AsyncSession, user_id: str) -> Connections:
    """The person's :class:`Connections` (services/grants.connected_person uses the same)."""
    consents = await db.execute(
        select(Consent.space_id, Consent.app_id).where(
            Consent.user_id == user_id, Consent.space_id.is_not(None)
        )
    )
    members = await db.execute(select(Membership.space_id).where(Membership.user_id == user_id))
    return Connections(
        member_of=frozenset(members.scalars()),
        approved=frozenset((space_id, app_id) for space_id, app_id in consents.all() if space_id is not None),
    )


@dataclass(frozen=True, slots=True)
class Route:
    """An active endpoint that wants one event type: ``space_id``/``app_id`` None for the
    operator's endpoints (every space, every app); ``narrowed`` when it was subscribed to by a
    Cobot name that means only some events of the type (:data:`COBOT_EVENTS`)."""

    endpoint_id: str
    space_id: str | None
    app_id: str | None
    narrowed: CobotEvent | None = None

    @property
    def needs_connections(self) -> bool:
        return self.narrowed is not None and self.narrowed.connected

    def wants(
        self,
        space_id: str | None,
        app_id: str | None,
        detail: Mapping[str, Any] | None = None,
        connections: Connections | None = None,
    ) -> bool:
        """A space's subscription hears that space's events, and of app-related events only
        its own app's (an app never learns about another app's tokens or consents). A narrowed
        one hears only the ``change`` it names, or events about a person connected to its app
        in its space (``connections``: that person's, read once per event)."""
        if self.needs_connections:
            return connections is not None and connections.link(self.space_id, self.app_id)
        if self.space_id is not None:
            if space_id != self.space_id:
                return False
            if app_id is not None and self.app_id is not None and app_id != self.app_id:
                return False
        if self.narrowed is not None and self.narrowed.change is not None:
            return (detail or {}).get("change") == self.narrowed.change
        return True


async def _route_table(db: AsyncSession) -> Mapping[str, tuple[Route, ...]]:
    """The active endpoints by the event types they want (every type for ``*``)."""
    rows = await db.execute(
        select(
            WebhookEndpoint.id,
            WebhookEndpoint.space_id,
            WebhookEndpoint.app_id,
            WebhookEndpoint.event_types,
            WebhookEndpoint.subscribed_as,
        ).where(WebhookEndpoint.active.is_(True))
    )
    table: dict[str, list[Route]] = {}
    for endpoint_id, space_id, app_id, types, subscribed_as in rows:
        wanted = set(types or ())
        narrowed = COBOT_EVENTS.get(subscribed_as) if subscribed_as else None
        route = Route(endpoint_id, space_id, app_id, narrowed)
        for event_type in EVENT_TYPES if ALL in wanted else wanted:
            table.setdefault(event_type, []).append(route)
    return MappingProxyType({event_type: tuple(routes) for event_type, routes in table.items()})


async def stage_event(db: AsyncSession, event_type: str, event: dict[str, Any]) -> int:
    """Stage the message of one recorded event for every endpoint that wants it (in ``db``'s
    transaction); returns how many. Which endpoints want which type is one cached read of
    every type's routes (one query for all types on a miss)."""
    # Imported here: caching imports sql_storage, which imports the audit recorder and so this.
    from frontdesk.store import caching

    table: Mapping[str, tuple[Route, ...]] = await caching.read_in_session(
        db, caching.WEBHOOKS, (), lambda: _route_table(db)
    )
    candidates = table.get(event_type, ())
    connections = None
    if event["user_id"] and any(r.needs_connections for r in candidates):
        connections = await connections_of(db, event["user_id"])
    routes = [
        r for r in candidates if r.wants(event["space_id"], event["app_id"], event["detail"], connections)
    ]
    if not routes:
        return 0
    created: datetime = event["created_at"]
    data = {
        "id": event["id"],
        "user_id": event["user_id"],
        "app_id": event["app_id"],
        "space_id": event["space_id"],
        **(event["detail"] or {}),
    }
    payload = {"type": event_type, "timestamp": created.isoformat().replace("+00:00", "Z"), "data": data}
    message_id = new_message_id()
    for route in routes:
        defer_insert(
            db,
            INSERT_MESSAGE,
            {
                "message_id": message_id,
                "endpoint_id": route.endpoint_id,
                "event_type": event_type,
                "payload": payload,
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": created,
                "created_at": created,
            },
        )
    return len(routes)


# ---- the worker's side ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Claimed:
    endpoint_id: str
    url_sealed: str  # services/webhooks.py reveal_url opens it at send time
    secret_sealed: str
    failing_since: datetime | None
    # A subscription made through Cobot's API (its event name) and its space's subdomain:
    # its deliveries carry Cobot's ``url`` of the resource (services/webhooks.py cobot_body).
    subscribed_as: str | None = None
    subdomain: str | None = None


@dataclass(frozen=True, slots=True)
class Outgoing:
    seq: int
    message_id: str
    event_type: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime


def _head_seq(endpoint_id: Any) -> Any:
    return (
        select(func.min(WebhookMessage.seq))
        .where(WebhookMessage.endpoint_id == endpoint_id, WebhookMessage.status == PENDING)
        .scalar_subquery()
    )


async def claim_endpoints(db: AsyncSession, *, now: datetime, lease: timedelta, limit: int) -> list[Claimed]:
    """Lease up to ``limit`` active endpoints whose oldest pending message is due, and commit."""
    head = WebhookMessage.__table__.alias("head")
    due = (
        select(head.c.seq)
        .where(
            head.c.endpoint_id == WebhookEndpoint.id,
            head.c.status == PENDING,
            head.c.next_attempt_at <= now,
            head.c.seq == _head_seq(WebhookEndpoint.id),
        )
        .exists()
    )
    free = or_(WebhookEndpoint.claimed_until.is_(None), WebhookEndpoint.claimed_until < now)
    subdomain = select(Space.subdomain).where(Space.id == WebhookEndpoint.space_id).scalar_subquery()
    query = (
        select(
            WebhookEndpoint.id,
            WebhookEndpoint.url_sealed,
            WebhookEndpoint.secret_sealed,
            WebhookEndpoint.failing_since,
            WebhookEndpoint.subscribed_as,
            subdomain,
        )
        .where(WebhookEndpoint.active.is_(True), free, due)
        .limit(limit)
    )
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=WebhookEndpoint)
    candidates = (await db.execute(query)).all()
    claimed = []
    for endpoint_id, url_sealed, sealed, failing_since, subscribed_as, space_subdomain in candidates:
        result = await db.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id, free)
            .values(claimed_until=now + lease),
            execution_options=QUIET,
        )
        if result.rowcount:  # type: ignore[attr-defined]
            claimed.append(
                Claimed(endpoint_id, url_sealed, sealed, failing_since, subscribed_as, space_subdomain)
            )
    await db.commit()
    return claimed


async def renew(db: AsyncSession, endpoint_id: str, until: datetime | None) -> None:
    await db.execute(
        update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id).values(claimed_until=until),
        execution_options=QUIET,
    )
    await db.commit()


async def head_message(db: AsyncSession, endpoint_id: str, now: datetime) -> Outgoing | None:
    """The endpoint's oldest pending message if it is due (else None: later ones wait). Read in
    the transaction that :func:`renew` then commits."""
    row = (
        await db.execute(
            select(WebhookMessage)
            .where(WebhookMessage.endpoint_id == endpoint_id, WebhookMessage.status == PENDING)
            .order_by(WebhookMessage.seq)
            .limit(1)
        )
    ).scalar_one_or_none()
    if row is None or row.next_attempt_at > now:
        return None
    return Outgoing(row.seq, row.message_id, row.event_type, row.payload, row.attempts, row.created_at)


async def record_success(
    db: AsyncSession, endpoint_id: str, message: Outgoing, status: int, now: datetime
) -> None:
    await db.execute(
        update(WebhookMessage)
        .where(WebhookMessage.seq == message.seq)
        .values(
            status=DELIVERED,
            attempts=message.attempts + 1,
            last_attempt_at=now,
            delivered_at=now,
            response_status=status,
            last_error=None,
        )
    )
    await db.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.failing_since.is_not(None))
        .values(failing_since=None),
        execution_options=QUIET,
    )
    await db.commit()


async def record_failure(
    db: AsyncSession,
    endpoint_id: str,
    message: Outgoing,
    *,
    now: datetime,
    error: str,
    status: int | None,
    retry_at: datetime | None,
) -> datetime:
    """Note a failed attempt: retry at ``retry_at``, or give the message up (None). Returns
    since when the endpoint has been failing (commits)."""
    await db.execute(
        update(WebhookMessage)
        .where(WebhookMessage.seq == message.seq)
        .values(
            status=PENDING if retry_at is not None else FAILED,
            attempts=message.attempts + 1,
            last_attempt_at=now,
            next_attempt_at=retry_at or now,
            response_status=status,
            last_error=error[:500],
        )
    )
    await db.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.failing_since.is_(None))
        .values(failing_since=now),
        execution_options=QUIET,
    )
    since = (
        await db.execute(select(WebhookEndpoint.failing_since).where(WebhookEndpoint.id == endpoint_id))
    ).scalar_one_or_none()
    await db.commit()
    return since or now


async def disable(db: AsyncSession, endpoint_id: str, reason: str, now: datetime) -> WebhookEndpoint | None:
    """Stop sending to an endpoint (its pending messages wait; enabling it sends them)."""
    row = await db.get(WebhookEndpoint, endpoint_id)
    if row is None or not row.active:
        return None
    row.active = False
    row.disabled_at = now
    row.disabled_reason = reason[:300]
    row.claimed_until = None
    return row


def pending_filter(endpoint_id: str) -> Any:
    return and_(WebhookMessage.endpoint_id == endpoint_id, WebhookMessage.status == PENDING)
