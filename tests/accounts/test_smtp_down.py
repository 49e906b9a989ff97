"""A mail server that is down never blocks a request, and the worker delivers the message
once the server is back (the outbox keeps it; retries with backoff, then a logged failure)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from frontdesk.email_worker import EmailWorker
from frontdesk.security.server_secret import ServerSecret
from frontdesk.store import email_outbox
from frontdesk.store.models import EmailMessage
from frontdesk.store.types import utcnow
from tests.accounts.conftest import local_path
from tests.accounts.mailbox import Mailbox, link_in
from tests.support import Browser


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()  # not started: its port is closed until the test starts it
    yield box
    box.stop()


async def test_sign_up_does_not_wait_and_the_message_arrives_when_the_server_is_up(
    browser: Browser, worker: EmailWorker, mailbox: Mailbox, db: Any
) -> None:
    response = await browser.signup("patient@example.com")
    assert response.status_code == 303
    assert await worker.run_once() is True  # the attempt fails: connection refused
    row = (await db.execute(select(EmailMessage))).scalar_one()
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error
    assert row.next_attempt_at > utcnow()
    # Not due yet: the next round leaves it alone.
    assert await worker.run_once() is False
    mailbox.start()
    assert await worker.run_once(now=utcnow() + timedelta(minutes=5)) is True
    (message,) = mailbox.to("patient@example.com")
    assert local_path(link_in(message)).startswith("/account/verify?token=")
    await db.refresh(row)
    assert (row.status, row.attempts) == ("sent", 2)


async def test_a_message_is_given_up_after_the_retry_window(
    browser: Browser, worker: EmailWorker, db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    await browser.signup("never@example.com")
    later = utcnow() + timedelta(hours=worker.settings.email_retry_hours)
    assert await worker.run_once(now=later) is True
    row = (await db.execute(select(EmailMessage))).scalar_one()
    assert row.status == "failed"
    assert any("given up" in r.getMessage() and row.id in r.getMessage() for r in caplog.records)


async def test_a_message_sealed_with_another_server_secret_is_given_up(worker: EmailWorker, db: Any) -> None:
    other = ServerSecret(b"another-server-secret-0123456789abcdef")
    await email_outbox.enqueue(db, other, to="x@example.com", template="verify_email", context={"link": "-"})
    await db.commit()
    assert await worker.run_once() is False  # nothing it can send, and no failing round
    row = (await db.execute(select(EmailMessage))).scalar_one()
    await db.refresh(row)
    assert row.status == "failed"
