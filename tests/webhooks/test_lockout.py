"""The security event "lockout": the wrong password that makes the login throttle refuse
further attempts is recorded once (``account.locked``) and sent as ``security.lockout``."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from frontdesk import events
from frontdesk.services import webhooks
from frontdesk.store.models import AuditEvent, WebhookMessage
from tests.oauth_support import make_user
from tests.support import Browser


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"webhooks_worker": False, "login_failures_per_account_address": "3/15 minutes"}


async def test_lockout_is_recorded_once_and_sent(browser: Browser, state: Any, db: Any) -> None:
    person = await make_user(state, db, "pat@example.com", "Pat")
    await webhooks.create_endpoint(
        db,
        state.server_secret,
        state.settings,
        url="https://hooks.example/sec",
        event_types=["security.lockout"],
    )
    await db.commit()
    statuses = [(await browser.login("pat@example.com", "wrong password")).status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 429, 429]
    locked = (
        (await db.execute(select(AuditEvent).where(AuditEvent.event == events.ACCOUNT_LOCKED)))
        .scalars()
        .all()
    )
    assert [e.user_id for e in locked] == [person.id]
    sent = (await db.execute(select(WebhookMessage))).scalars().all()
    assert [(m.event_type, m.payload["data"]["user_id"]) for m in sent] == [("security.lockout", person.id)]
