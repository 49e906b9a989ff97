"""Webhook tests: the API tests' world (a space with an owner, an admin, a member), a real
receiver on 127.0.0.1, and the delivery worker driven round by round (not as a background
task, so each test decides when deliveries happen)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from frontdesk.webhook_worker import WebhookWorker
from tests.api.conftest import issue, world  # noqa: F401 (fixtures)
from tests.webhooks.receiver import Receiver


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "webhooks_worker": False,
        "webhooks_allow_private": True,
        "webhooks_timeout_seconds": 2,
        "webhooks_retry_base_seconds": 0.2,
    }


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
async def worker(state: Any) -> Any:
    made = WebhookWorker(state.db, state.settings)
    yield made
    await made.stop()
