"""The email delivery worker: an asyncio task in every server process (started in the app's
lifespan, web/app.py, like the webhook worker), safe with any number of workers and servers on
one database.

Each round it leases due messages of the email outbox (:func:`frontdesk.store.email_outbox.claim`),
renders each (:mod:`frontdesk.mail.messages`) and hands it to the transport (SMTP, or the
development folder). A failure schedules a retry (exponential backoff from
``email_retry_base_seconds``, doubling, at most an hour apart) until ``email_retry_hours`` after
the message was queued; then the message is given up and the failure logged. Every outcome is
committed at once; the lease outlives one attempt, so a server killed mid-send leaves the
message to another once the lease runs out (sent at least once). Requests never wait for it.

The same outbox carries OpenID Connect back-channel logout notices (template
``backchannel_logout``, queued by store/session_apps.py): for those the worker signs a logout
token with the current signing key and POSTs it to the app (services/backchannel.py), with
the same retries.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Final

from frontdesk import metrics
from frontdesk.mail import messages
from frontdesk.mail.transport import SendFailed, Transport, transport_for
from frontdesk.outbox_worker import OutboxWorker, retry_delay
from frontdesk.services import backchannel
from frontdesk.settings import Settings
from frontdesk.store import email_outbox as outbox
from frontdesk.store.db import Database
from frontdesk.store.key_storage import LoadedKeys, add_key, load_keys
from frontdesk.store.session_apps import BACKCHANNEL_LOGOUT
from frontdesk.store.types import utcnow

log = logging.getLogger("frontdesk.email")
MESSAGES_PER_ROUND: Final = 20


class EmailWorker(OutboxWorker):
    name = "email"
    log = log

    def __init__(self, database: Database, settings: Settings, transport: Transport | None = None) -> None:
        super().__init__(settings.email_poll_seconds)
        self.database = database
        self.settings = settings
        self.transport = transport or transport_for(settings)
        self.lease = timedelta(seconds=settings.smtp_timeout_seconds * 2 + 10)
        self._keys: LoadedKeys | None = None

    async def run_once(self, now: datetime | None = None) -> bool:
        """One round (``now``: the time it acts at; tests pass a later one to reach a retry);
        True when it found work."""
        now = now or utcnow()
        async with self.database.session() as db:
            claimed = await outbox.claim(
                db, self.database.server_secret, now=now, lease=self.lease, limit=MESSAGES_PER_ROUND
            )
        if not claimed:
            return False
        await asyncio.gather(*(self._send(message, now) for message in claimed))
        return True

    async def _send(self, message: outbox.Outgoing, now: datetime) -> None:
        error: str | None = None
        try:
            if message.template == BACKCHANNEL_LOGOUT:
                await self._send_logout(message)
                rendered = None
            else:
                rendered = messages.render(
                    message.template, message.context, sender=self.settings.email_from, to=message.to
                )
            if rendered is not None:
                await self.transport.send(
                    rendered, message_id=message.id, link=message.context.get("link", "")
                )
        except SendFailed as exc:
            error = str(exc)
        except Exception as exc:  # a bug or a bad address: retried like a refusal, and logged
            log.exception("email %s: could not send", message.id)
            error = f"{type(exc).__name__}: {exc}"
        done = max(now, utcnow())
        async with self.database.session() as db:
            if error is None:
                await outbox.record_sent(db, message, done)
                metrics.delivery("email", "delivered")
                return
            retry_at: datetime | None = done + retry_delay(
                message.attempts + 1, self.settings.email_retry_base_seconds
            )
            if retry_at is not None and retry_at > message.created_at + timedelta(
                hours=self.settings.email_retry_hours
            ):
                retry_at = None
            await outbox.record_failure(db, message, now=done, error=error, retry_at=retry_at)
        metrics.delivery("email", "failed" if retry_at is not None else "given_up")
        if retry_at is None:
            log.error(
                "email %s (%s) given up after %d attempts: %s",
                message.id,
                message.template,
                message.attempts + 1,
                error,
            )
        else:
            log.warning(
                "email %s (%s) failed (attempt %d), retrying at %s: %s",
                message.id,
                message.template,
                message.attempts + 1,
                retry_at.isoformat(),
                error,
            )

    async def _send_logout(self, message: outbox.Outgoing) -> None:
        """Sign a logout token now and POST it (services/backchannel.py); SendFailed when the
        app does not take it."""
        async with self.database.session() as db:
            self._keys = await load_keys(db, self.database.server_secret, previous=self._keys)
            key = self._keys.signing
            if key is None:  # no ID token was ever signed: the first key, as /jwks.json would
                key = await add_key(db, self.database.server_secret)
                await db.commit()
                self._keys = None
        context = message.context
        token = backchannel.logout_token(
            key, iss=context["iss"], aud=context["aud"], sub=context["sub"], sid=context["sid"]
        )
        outcome = await backchannel.deliver(
            self.client,
            url=context["uri"],
            token=token,
            timeout_seconds=self.settings.webhooks_timeout_seconds,
            allow_private=self.settings.webhooks_allow_private,
        )
        if not outcome.ok:
            raise SendFailed(f"back-channel logout: {outcome.error}")
