"""Where the outbox looks up which endpoints want an event while caching is off (a command such
as ``users import``, or a server whose invalidation channel is down): once per transaction, not
once per event, and afresh in the next transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from frontdesk import events
from frontdesk.store.audit_storage import record_event
from frontdesk.store.db import Database
from tests.api.conftest import World
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_delivery import messages, operator_endpoint


async def test_a_batch_looks_its_routes_up_once(
    world: World, state: Any, db: Any, receiver: Receiver
) -> None:
    await operator_endpoint(state, db, receiver.url, "user.created")
    command = Database(state.settings, server_secret=state.server_secret)  # no channel: caching off
    lookups: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "webhook_endpoints" in statement:
            lookups.append(statement)

    event.listen(command.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with command.session() as session:
            for _ in range(3):
                await record_event(session, events.USER_CREATED, user_id=world.member.id)
            await record_event(session, events.TOKEN_ISSUED, user_id=world.member.id)
            await session.commit()
            assert len(lookups) == 1
            # The next transaction sees an endpoint added meanwhile.
            await operator_endpoint(state, db, receiver.url, "token.issued")
            await record_event(session, events.TOKEN_ISSUED, user_id=world.member.id)
            await session.commit()
            assert len(lookups) == 2
    finally:
        event.remove(command.engine.sync_engine, "before_cursor_execute", count)
        await command.dispose()
    assert [m.event_type for m in await messages(db)] == ["user.created"] * 3 + ["token.issued"]
