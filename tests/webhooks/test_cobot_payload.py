"""What a subscription made through Cobot's ``<space>/api/subscriptions`` is sent: Cobot's
``url`` of the changed resource beside the Standard Webhooks envelope, and that URL answers the
subscribing app's token (docs/integrating.md, "Webhooks")."""

from __future__ import annotations

from typing import Any

from frontdesk.services import spaces, webhooks
from tests.api.conftest import World
from tests.oauth_support import consent, make_user
from tests.support import Browser
from tests.webhooks.receiver import Receiver

SPACE = {"host": "co-up.localhost:8000"}


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}", **SPACE}


async def subscribe(browser: Browser, token: str, event: str, url: str) -> dict[str, Any]:
    made = await browser.post(
        "/api/subscriptions", json={"event": event, "callback_url": url}, headers=auth(token)
    )
    assert made.status_code == 201, made.text
    body: dict[str, Any] = made.json()
    return body


async def drain(worker: Any) -> None:
    while await worker.run_once():
        pass


async def test_membership_deliveries_carry_the_url_the_app_can_get(
    browser: Browser, world: World, issue: Any, receiver: Receiver, worker: Any, state: Any, db: Any
) -> None:
    token = await issue(world.admin, scopes="write_subscriptions read_memberships")
    created = await subscribe(browser, token, "created_membership", receiver.url)
    changed = await subscribe(browser, token, "updated_membership_details", receiver.url)
    assert created["secret"] != changed["secret"]
    newcomer = await make_user(state, db, "new@example.com", "Nina New")
    receiver.secret = created["secret"]
    added = await spaces.add_member(db, world.space, email=newcomer.email)
    await db.commit()
    await drain(worker)
    assert receiver.rejected == []
    [message] = receiver.received
    url = f"http://co-up.localhost:8000/api/memberships/{added.id}"
    assert message["url"] == url
    assert message["type"] == "membership.created"
    assert message["data"]["membership_id"] == added.id
    # The app follows the url with its token, as Cobot's apps do.
    fetched = await browser.get(url, headers={"authorization": f"Bearer {token}"})
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()["user"] == {"id": newcomer.id, "email": "new@example.com"}

    receiver.secret = changed["secret"]
    await spaces.change_role(db, world.space, added.id, "admin")
    await db.commit()
    await drain(worker)
    assert receiver.rejected == []
    assert [(m["type"], m["url"]) for m in receiver.received[1:]] == [("membership.changed", url)]


async def test_connected_user_points_at_the_person(
    browser: Browser,
    new_browser: Any,
    world: World,
    issue: Any,
    receiver: Receiver,
    worker: Any,
    state: Any,
    db: Any,
) -> None:
    token = await issue(world.admin, scopes="write_subscriptions read_user")
    sub = await subscribe(browser, token, "connected_user", receiver.url)
    receiver.secret = sub["secret"]
    person = await make_user(state, db, "visitor@example.com", "Vera Visitor")
    stranger_url = f"http://co-up.localhost:8000/api/users/{person.id}"
    before = await browser.get(stranger_url, headers={"authorization": f"Bearer {token}"})
    assert before.status_code == 404
    # Vera connects the app on the space's host (not a member of the space).
    visitor: Browser = new_browser("co-up.localhost:8000")
    assert (await visitor.login("visitor@example.com")).status_code == 303
    approved = await consent(visitor, world.app, scope="read_user")
    assert approved.status_code == 303, approved.text
    await drain(worker)
    assert receiver.rejected == []
    [message] = receiver.received
    assert message["type"] == "consent.granted"
    assert message["url"] == stranger_url
    fetched = await browser.get(message["url"], headers={"authorization": f"Bearer {token}"})
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()["email"] == "visitor@example.com"
    assert fetched.json()["memberships"] == []
    # Another app's token, or a member's, does not see her.
    member = await issue(world.member, scopes="read_user")
    assert (await browser.get(stranger_url, headers={"authorization": f"Bearer {member}"})).status_code == 403
    on_main = await browser.get(f"/api/users/{person.id}", headers={"authorization": f"Bearer {token}"})
    assert on_main.status_code == 404


async def test_operator_endpoints_get_the_envelope_only(
    world: World, receiver: Receiver, worker: Any, state: Any, db: Any
) -> None:
    _endpoint, secret = await webhooks.create_endpoint(
        db, state.server_secret, state.settings, url=receiver.url, event_types=["membership.created"]
    )
    await db.commit()
    receiver.secret = secret
    await make_user(state, db, "new@example.com", "Nina New")
    await spaces.add_member(db, world.space, email="new@example.com")
    await db.commit()
    await drain(worker)
    assert receiver.rejected == []
    assert [sorted(m) for m in receiver.received] == [["data", "timestamp", "type"]]
