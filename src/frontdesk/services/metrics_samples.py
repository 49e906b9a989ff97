"""What ``/metrics`` samples when it is read or every few seconds (web/metrics.py,
docs/metrics.md): the outboxes' depth and this worker's store gauges."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.store import metrics_sampling
from frontdesk.store.models import EmailMessage, WebhookMessage


async def pending_counts(session: AsyncSession) -> dict[str, int]:
    """Pending messages per outbox (``webhooks``, ``email``): due now or waiting for a retry."""
    webhooks = await session.scalar(
        select(func.count()).select_from(WebhookMessage).where(WebhookMessage.status == "pending")
    )
    email = await session.scalar(
        select(func.count()).select_from(EmailMessage).where(EmailMessage.status == "pending")
    )
    return {"webhooks": int(webhooks or 0), "email": int(email or 0)}


def sample_worker(database: Any) -> None:
    """This worker's cache lookups and database pool (``store/metrics_sampling.py``)."""
    metrics_sampling.sample(database)
