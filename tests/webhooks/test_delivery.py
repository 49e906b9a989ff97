"""The outbox and the worker (docs/integrating.md, "Webhooks"): messages exist exactly when
their change was committed, are signed (Standard Webhooks), sent in order per endpoint with
retries, never to private addresses unless the operator allows it, and endpoints that keep
failing are disabled with a notice."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select, update

from frontdesk import events
from frontdesk.services import spaces, webhooks
from frontdesk.store.audit_storage import record_event
from frontdesk.store.models import AuditEvent, WebhookEndpoint, WebhookMessage
from frontdesk.store.types import utcnow
from tests.api.conftest import World
from tests.oauth_support import make_user
from tests.webhooks.receiver import Receiver


async def operator_endpoint(state: Any, db: Any, url: str, *types: str) -> str:
    _endpoint, secret = await webhooks.create_endpoint(
        db, state.server_secret, state.settings, url=url, event_types=list(types) or ["*"]
    )
    await db.commit()
    return secret


async def messages(db: Any) -> list[WebhookMessage]:
    query = select(WebhookMessage).order_by(WebhookMessage.seq).execution_options(populate_existing=True)
    rows = (await db.execute(query)).scalars().all()
    await db.commit()
    return list(rows)


async def drain(worker: Any) -> None:
    while await worker.run_once():
        pass


async def test_the_outbox_row_commits_and_rolls_back_with_the_change(
    world: World, state: Any, db: Any, receiver: Receiver
) -> None:
    await operator_endpoint(state, db, receiver.url, "membership.created")
    newcomer = await make_user(state, db, "new@example.com", "Nina New")
    await spaces.add_member(db, world.space, email=newcomer.email)
    await db.rollback()
    assert await messages(db) == []
    await spaces.add_member(db, world.space, email=newcomer.email)
    await db.commit()
    assert [m.event_type for m in await messages(db)] == ["membership.created"]


async def test_no_subscriber_no_query(world: World, state: Any, receiver: Receiver) -> None:
    """Recording a hot event (token.issued) costs no statement when no endpoint wants it."""
    async with state.db.session() as db:
        await operator_endpoint(state, db, receiver.url, "user.created")
    for _ in range(50):  # the invalidation channel listens: caching is on
        if state.db.caches.enabled:
            break
        await asyncio.sleep(0.1)
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    async with state.db.session() as db:
        await record_event(db, events.TOKEN_ISSUED, user_id=world.admin.id, app_id=world.app.client_id)
        await db.commit()
    event.listen(state.db.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with state.db.session() as db:
            await record_event(db, events.TOKEN_ISSUED, user_id=world.admin.id, app_id=world.app.client_id)
            assert statements == []
            await db.commit()
    finally:
        event.remove(state.db.engine.sync_engine, "before_cursor_execute", count)
    assert not any("webhook_messages" in s for s in statements)


async def test_in_order_with_retries(
    world: World, state: Any, db: Any, receiver: Receiver, worker: Any
) -> None:
    receiver.secret = await operator_endpoint(
        state, db, receiver.url, "membership.created", "membership.changed"
    )
    receiver.status = 500
    newcomer = await make_user(state, db, "new@example.com", "Nina New")
    record = await spaces.add_member(db, world.space, email=newcomer.email)
    await db.commit()
    await spaces.change_role(db, world.space, record.id, "admin")
    await db.commit()
    # One round: a loop of rounds could reach the first message's retry (0.2 s) on a busy machine.
    assert await worker.run_once()
    first, second = await messages(db)
    assert (first.status, first.attempts, first.response_status) == ("pending", 1, 500)
    assert first.last_error == "answered HTTP 500"
    assert second.attempts == 0  # never sent while the first waits for its retry
    receiver.status = 204
    for _ in range(100):
        await drain(worker)
        if len(receiver.ids) == 2:
            break
        await asyncio.sleep(0.05)
    assert receiver.rejected == []
    assert receiver.types() == ["membership.created", "membership.changed"]
    assert receiver.ids == [first.message_id, second.message_id]
    assert [(m.status, m.attempts) for m in await messages(db)] == [("delivered", 2), ("delivered", 1)]
    headers = receiver.headers[-1]
    assert headers["webhook-signature"].startswith("v1,")
    assert headers["content-type"] == "application/json"


async def test_send_again(world: World, state: Any, db: Any, receiver: Receiver, worker: Any) -> None:
    receiver.secret = await operator_endpoint(state, db, receiver.url)
    newcomer = await make_user(state, db, "new@example.com", "Nina New")
    await drain(worker)
    (sent,) = await messages(db)
    assert sent.status == "delivered"
    again = await webhooks.resend(db, sent.seq)
    await db.commit()
    await drain(worker)
    assert receiver.ids == [sent.message_id, sent.message_id]  # the same webhook-id: a receiver can dedupe
    assert receiver.received[1]["data"]["user_id"] == newcomer.id
    assert again.seq > sent.seq


async def test_410_disables_the_endpoint(
    world: World, state: Any, db: Any, receiver: Receiver, worker: Any
) -> None:
    receiver.secret = await operator_endpoint(state, db, receiver.url)
    receiver.status = 410
    await make_user(state, db, "new@example.com", "Nina New")
    await drain(worker)
    endpoint = (
        await db.execute(select(WebhookEndpoint).execution_options(populate_existing=True))
    ).scalar_one()
    assert endpoint.active is False
    assert endpoint.disabled_reason == "the receiver answered 410 Gone"
    notice = (
        await db.execute(select(AuditEvent).where(AuditEvent.event == events.WEBHOOK_ENDPOINT_DISABLED))
    ).scalar_one()
    assert notice.detail["endpoint_id"] == endpoint.id


async def test_an_endpoint_failing_for_days_is_disabled(
    world: World, state: Any, db: Any, receiver: Receiver, worker: Any
) -> None:
    await operator_endpoint(state, db, receiver.url)
    receiver.status = 503
    long_ago = utcnow() - timedelta(days=state.settings.webhooks_disable_after_days, minutes=1)
    await db.execute(update(WebhookEndpoint).values(failing_since=long_ago))
    await db.commit()
    await make_user(state, db, "new@example.com", "Nina New")
    await drain(worker)
    endpoint = (
        await db.execute(select(WebhookEndpoint).execution_options(populate_existing=True))
    ).scalar_one()
    assert endpoint.active is False
    assert endpoint.disabled_reason == "deliveries failed for 5 days"
    # A disabled endpoint is sent nothing more; its messages wait for it to be enabled.
    receiver.status = 204
    await make_user(state, db, "later@example.com", "Lea Later")
    await drain(worker)
    assert receiver.ids == []
    assert {m.status for m in await messages(db)} == {"pending"}


async def test_private_destinations_are_refused_after_resolution(receiver: Receiver) -> None:
    """``localhost`` is a name: it is refused for what it resolves to (127.0.0.1 / ::1)."""
    receiver.secret = webhooks.new_secret()
    url = f"http://localhost:{receiver.port}/hooks"
    async with httpx.AsyncClient() as client:
        send = dict(
            url=url, secret=receiver.secret, message_id="msg_1", payload={"type": "t"}, timeout_seconds=2
        )
        refused = await webhooks.deliver(client, allow_private=False, **send)  # type: ignore[arg-type]
        assert refused.ok is False
        assert refused.error is not None and refused.error.startswith("refused: the host resolves to")
        assert receiver.ids == []
        allowed = await webhooks.deliver(client, allow_private=True, **send)  # type: ignore[arg-type]
    assert allowed.ok is True
    assert receiver.ids == ["msg_1"]
    assert receiver.headers[0]["host"] == f"localhost:{receiver.port}"


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # shared address space
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),
        ("2002:7f00:1::1", False),  # 6to4 around 127.0.0.1
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 around 169.254.169.254
        ("::ffff:93.184.215.14", True),
        ("224.0.0.1", False),
        ("93.184.215.14", True),
        ("2606:4700::1111", True),
    ],
)
def test_which_addresses_are_private(address: str, allowed: bool) -> None:
    assert webhooks.allowed_address(address) is allowed


async def test_the_worker_refuses_private_destinations_unless_allowed(
    world: World, state: Any, db: Any, receiver: Receiver
) -> None:
    from frontdesk.webhook_worker import WebhookWorker

    receiver.secret = await operator_endpoint(state, db, f"http://localhost:{receiver.port}/hooks")
    strict = WebhookWorker(state.db, state.settings.model_copy(update={"webhooks_allow_private": False}))
    try:
        await make_user(state, db, "new@example.com", "Nina New")
        await drain(strict)
    finally:
        await strict.stop()
    (message,) = await messages(db)
    assert message.status == "pending"
    assert message.last_error is not None and message.last_error.startswith("refused:")
    assert receiver.ids == []
