"""The email outbox in the metrics (docs/metrics.md): its depth when /metrics is read and each
delivery attempt's outcome."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from frontdesk.email_worker import EmailWorker
from frontdesk.store.types import utcnow
from tests.accounts.mailbox import Mailbox
from tests.support import Browser
from tests.web.test_metrics import scrape, value


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()  # not started: its port is closed until the test starts it
    yield box
    box.stop()


async def test_outbox_depth_and_delivery_outcomes_are_counted(
    browser: Browser, worker: EmailWorker, mailbox: Mailbox
) -> None:
    before = await scrape(browser)
    failed = {"outbox": "email", "outcome": "failed"}
    delivered = {"outbox": "email", "outcome": "delivered"}
    assert (await browser.signup("patient@example.com")).status_code == 303
    assert value(await scrape(browser), "frontdesk_outbox_pending", outbox="email") == 1

    assert await worker.run_once() is True  # connection refused: retried later
    after_failure = await scrape(browser)
    assert value(after_failure, "frontdesk_outbox_deliveries_total", **failed) == (
        value(before, "frontdesk_outbox_deliveries_total", **failed) + 1
    )
    assert value(after_failure, "frontdesk_outbox_pending", outbox="email") == 1

    mailbox.start()
    assert await worker.run_once(now=utcnow() + timedelta(minutes=5)) is True
    after = await scrape(browser)
    assert value(after, "frontdesk_outbox_deliveries_total", **delivered) == (
        value(before, "frontdesk_outbox_deliveries_total", **delivered) + 1
    )
    assert value(after, "frontdesk_outbox_pending", outbox="email") == 0
