"""The app's page shows its webhook subscriptions, their delivery log and a disabled
endpoint's notice, and sends a delivery again (docs/integrating.md, "Webhooks")."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from frontdesk.store.models import WebhookMessage
from tests.api.conftest import World
from tests.oauth_support import make_user
from tests.support import Browser, csrf_from
from tests.webhooks.receiver import Receiver

SPACE = {"host": "co-up.localhost:8000"}


async def subscribe(browser: Browser, token: str, url: str) -> dict[str, Any]:
    made = await browser.post(
        "/api/subscriptions",
        json={"event": "created_membership", "callback_url": url},
        headers={"authorization": f"Bearer {token}", **SPACE},
    )
    assert made.status_code == 201, made.text
    body: dict[str, Any] = made.json()
    return body


async def test_log_send_again_and_disabled_notice(
    browser: Browser,
    new_browser: Any,
    world: World,
    issue: Any,
    receiver: Receiver,
    worker: Any,
    state: Any,
    db: Any,
) -> None:
    from frontdesk.services import spaces

    sub = await subscribe(browser, await issue(world.admin, scopes="write_subscriptions"), receiver.url)
    receiver.secret = sub["secret"]
    newcomer = await make_user(state, db, "new@example.com", "Nina New")
    await spaces.add_member(db, world.space, email=newcomer.email)
    await db.commit()
    while await worker.run_once():
        pass
    assert len(receiver.ids) == 1

    owner = new_browser()
    assert (await owner.login("dev@example.com")).status_code == 303
    url = f"/oauth2_clients/{world.app.client_id}"
    page = await owner.get(url)
    assert page.status_code == 200
    assert f'data-endpoint="{sub["id"]}"' in page.text
    [seq] = re.findall(r'data-delivery="(\d+)"', page.text)
    resend = f"{url}/webhooks/{seq}/resend"
    assert f'action="{resend}"' in page.text
    sent = await owner.post(resend, data={"csrf_token": csrf_from(page.text)})
    assert sent.status_code == 303
    while await worker.run_once():
        pass
    assert receiver.ids == [receiver.ids[0], receiver.ids[0]]

    # Someone else's app: no such delivery for them.
    stranger = new_browser()
    assert (await stranger.login("out@example.com")).status_code == 303
    their_page = await stranger.get("/oauth2_clients/new")
    refused = await stranger.post(resend, data={"csrf_token": csrf_from(their_page.text)})
    assert refused.status_code == 404
    not_a_number = await owner.post(f"{url}/webhooks/1e3/resend", data={"csrf_token": csrf_from(page.text)})
    assert not_a_number.status_code == 404

    # The receiver says 410: the subscription is disabled, with a notice on the page.
    receiver.status = 410
    await spaces.add_member(db, world.space, email="out@example.com")
    await db.commit()
    while await worker.run_once():
        pass
    page = await owner.get(url)
    assert 'role="alert">Disabled' in page.text
    assert "the receiver answered 410 Gone" in page.text
    statuses = (await db.execute(select(WebhookMessage.status).order_by(WebhookMessage.seq))).scalars().all()
    assert list(statuses) == ["delivered", "delivered", "failed"]
