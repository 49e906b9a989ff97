"""The webhook delivery worker: an asyncio task in every server process (started in the app's
lifespan, web/app.py), safe with any number of workers and servers on one database.

Each round it leases endpoints whose oldest pending message is due
(:func:`frontdesk.store.webhooks.claim_endpoints`) and, per endpoint, sends that message and
the ones after it, in order, until one fails: a failure schedules the retry (exponential
backoff from ``webhooks_retry_base_seconds``, doubling, at most an hour apart, for
``webhooks_retry_hours``) and nothing after it is sent meanwhile. Every outcome is committed
before the next message; the lease outlives one attempt, so a server killed mid-send leaves the
endpoint to others (or to itself after a restart) once the lease runs out, and the message is
sent again (at least once). Like the store's background jobs, the worker commits its own work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk import events, metrics
from frontdesk.outbox_worker import OutboxWorker, retry_delay
from frontdesk.services import webhooks as service
from frontdesk.settings import Settings
from frontdesk.store import webhooks as outbox
from frontdesk.store.audit_storage import record_event
from frontdesk.store.db import Database
from frontdesk.store.types import utcnow

log = logging.getLogger("frontdesk.webhooks")
ENDPOINTS_PER_ROUND: Final = 20
MESSAGES_PER_CLAIM: Final = 50


class WebhookWorker(OutboxWorker):
    name = "webhooks"
    log = log

    def __init__(self, database: Database, settings: Settings) -> None:
        super().__init__(settings.webhooks_poll_seconds)
        self.database = database
        self.settings = settings
        self.lease = timedelta(seconds=settings.webhooks_timeout_seconds * 2 + 10)

    async def run_once(self) -> bool:
        """One round; True when it found work."""
        async with self.database.session() as db:
            claimed = await outbox.claim_endpoints(
                db, now=utcnow(), lease=self.lease, limit=ENDPOINTS_PER_ROUND
            )
        if not claimed:
            return False
        await asyncio.gather(*(self._work_through(endpoint) for endpoint in claimed))
        return True

    async def _work_through(self, endpoint: outbox.Claimed) -> None:
        try:
            secret = service.reveal_secret(
                self.database.server_secret, endpoint.endpoint_id, endpoint.secret_sealed
            )
            for _ in range(MESSAGES_PER_CLAIM):
                if not await self._send_next(endpoint, secret):
                    break
        except Exception:
            log.exception("webhook endpoint %s: delivery failed", endpoint.endpoint_id)
        finally:
            with contextlib.suppress(Exception):
                async with self.database.session() as db:
                    await outbox.renew(db, endpoint.endpoint_id, None)

    async def _send_next(self, endpoint: outbox.Claimed, secret: str) -> bool:
        """Send the endpoint's next due message; True to go on with the one after it."""
        now = utcnow()
        async with self.database.session() as db:
            message = await outbox.head_message(db, endpoint.endpoint_id, now)
            if message is None:
                return False
            await outbox.renew(db, endpoint.endpoint_id, now + self.lease)
        settings = self.settings
        payload = message.payload
        if endpoint.subscribed_as is not None and endpoint.subdomain is not None:
            payload = service.cobot_body(settings, endpoint.subdomain, payload)
        outcome = await service.deliver(
            self.client,
            url=service.reveal_url(self.database.server_secret, endpoint.endpoint_id, endpoint.url_sealed),
            secret=secret,
            message_id=message.message_id,
            payload=payload,
            timeout_seconds=settings.webhooks_timeout_seconds,
            allow_private=settings.webhooks_allow_private,
        )
        now = utcnow()
        async with self.database.session() as db:
            if outcome.ok:
                await outbox.record_success(db, endpoint.endpoint_id, message, outcome.status or 200, now)
                metrics.delivery("webhooks", "delivered")
                return True
            retry_at: datetime | None = now + retry_delay(
                message.attempts + 1, settings.webhooks_retry_base_seconds
            )
            if outcome.gone or (retry_at or now) > message.created_at + timedelta(
                hours=settings.webhooks_retry_hours
            ):
                retry_at = None  # given up: the log keeps it, "send again" can retry it
            since = await outbox.record_failure(
                db,
                endpoint.endpoint_id,
                message,
                now=now,
                error=outcome.error or "failed",
                status=outcome.status,
                retry_at=retry_at,
            )
            metrics.delivery("webhooks", "failed" if retry_at is not None else "given_up")
            log.info(
                "webhook %s to endpoint %s failed (attempt %d): %s",
                message.message_id,
                endpoint.endpoint_id,
                message.attempts + 1,
                outcome.error,
            )
            reason = None
            if outcome.gone:
                reason = "the receiver answered 410 Gone"
            elif now - since >= timedelta(days=settings.webhooks_disable_after_days):
                reason = f"deliveries failed for {settings.webhooks_disable_after_days:g} days"
            if reason is not None:
                await self._disable(db, endpoint.endpoint_id, reason, now)
        return False

    async def _disable(self, db: AsyncSession, endpoint_id: str, reason: str, now: datetime) -> None:
        row = await outbox.disable(db, endpoint_id, reason, now)
        if row is None:
            return
        await record_event(
            db,
            events.WEBHOOK_ENDPOINT_DISABLED,
            app_id=row.app_id,
            space_id=row.space_id,
            detail={"endpoint_id": endpoint_id, "reason": reason},
        )
        await db.commit()
        log.warning("webhook endpoint %s disabled: %s", endpoint_id, reason)
