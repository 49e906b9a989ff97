"""Cobot's narrower subscription names (``confirmed_membership``, ``canceled_membership``,
``updated_connected_user``) deliver exactly the changes they name, and a callback URL (which
Cobot's apps put a secret into) is stored sealed (docs/integrating.md, "Webhooks")."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from frontdesk.services import spaces
from frontdesk.store.db import create_engine
from frontdesk.store.models import WebhookEndpoint
from tests.api.admin_support import Operator, operator_fixture  # noqa: F401  (the operator fixture)
from tests.api.conftest import World
from tests.oauth_support import consent, make_user
from tests.support import Browser
from tests.webhooks.receiver import Receiver

SPACE = {"host": "co-up.localhost:8000"}
MEMBERS = "admin:memberships:write"


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


async def test_canceled_and_confirmed_hear_only_their_change(
    operator: Operator, world: World, issue: Any, receiver: Receiver, worker: Any, state: Any, db: Any
) -> None:
    browser = operator.browser
    token = await issue(world.admin, scopes="write_subscriptions")
    canceled = await subscribe(browser, token, "canceled_membership", receiver.url)
    receiver.secret = canceled["secret"]
    with Receiver() as confirmations:
        confirmed = await subscribe(browser, token, "confirmed_membership", confirmations.url)
        confirmations.secret = confirmed["secret"]
        newcomer = await make_user(state, db, "new@example.com", "Nina New")
        headers = await operator.headers(MEMBERS)
        base = f"/api/admin/spaces/{world.space.id}/memberships"
        added = await browser.post(base, json={"user_id": newcomer.id, "confirmed": False}, headers=headers)
        assert added.status_code == 201, added.text
        url = f"{base}/{added.json()['id']}"
        promoted = await browser.http.patch(url, json={"role": "admin"}, headers=headers)
        assert promoted.status_code == 200, promoted.text
        done = await browser.post(f"{url}/confirm", json={}, headers=headers)
        assert done.status_code == 200, done.text
        ended = await browser.post(f"{url}/cancel", json={"canceled_to": "2027-01-31"}, headers=headers)
        assert ended.status_code == 200, ended.text
        withdrawn = await browser.post(f"{url}/cancel", json={"canceled_to": None}, headers=headers)
        assert withdrawn.status_code == 200, withdrawn.text
        demoted = await browser.http.patch(url, json={"role": "member"}, headers=headers)
        assert demoted.status_code == 200, demoted.text
        await drain(worker)
        assert receiver.rejected == [] and confirmations.rejected == []
        resource = f"http://co-up.localhost:8000/api/memberships/{added.json()['id']}"
        assert [(m["type"], m["data"]["change"], m["url"]) for m in receiver.received] == [
            ("membership.changed", "canceled", resource)
        ]
        assert receiver.received[0]["data"]["canceled_to"] == "2027-01-31"
        assert [(m["type"], m["data"]["change"], m["url"]) for m in confirmations.received] == [
            ("membership.changed", "confirmed", resource)
        ]


async def test_unknown_names_are_refused_with_the_accepted_ones(
    browser: Browser, world: World, issue: Any, receiver: Receiver
) -> None:
    token = await issue(world.admin, scopes="write_subscriptions")
    refused = await browser.post(
        "/api/subscriptions",
        json={"event": "created_booking", "callback_url": receiver.url},
        headers=auth(token),
    )
    assert refused.status_code == 422
    described = refused.json()["error_description"]
    for name in (
        "canceled_membership",
        "confirmed_membership",
        "updated_connected_user",
        "membership.changed",
    ):
        assert name in described


async def test_updated_connected_user_hears_people_connected_in_its_space(
    operator: Operator,
    new_browser: Any,
    world: World,
    issue: Any,
    receiver: Receiver,
    worker: Any,
    state: Any,
    db: Any,
) -> None:
    browser = operator.browser
    token = await issue(world.admin, scopes="write_subscriptions read_user")
    sub = await subscribe(browser, token, "updated_connected_user", receiver.url)
    receiver.secret = sub["secret"]
    visitor = await make_user(state, db, "visitor@example.com", "Vera Visitor")
    headers = await operator.headers("admin:users:write")

    async def rename(user_id: str, name: str) -> None:
        changed = await browser.http.patch(
            f"/api/admin/users/{user_id}", json={"name": name}, headers=headers
        )
        assert changed.status_code == 200, changed.text

    await rename(world.member.id, "Mia Renamed")  # a member of co-up: connected
    await rename(world.outsider.id, "Otto Renamed")  # of another space only: not
    await rename(visitor.id, "Vera Before")  # nobody yet
    # Vera connects the app on co-up's host (not a member): from now on she is connected.
    vera: Browser = new_browser("co-up.localhost:8000")
    assert (await vera.login("visitor@example.com")).status_code == 303
    approved = await consent(vera, world.app, scope="read_user")
    assert approved.status_code == 303, approved.text
    await rename(visitor.id, "Vera After")
    await drain(worker)
    assert receiver.rejected == []
    people = "http://co-up.localhost:8000/api/users"
    assert [(m["type"], m["data"]["user_id"], m["url"]) for m in receiver.received] == [
        ("user.updated", world.member.id, f"{people}/{world.member.id}"),
        ("user.updated", visitor.id, f"{people}/{visitor.id}"),
    ]
    fetched = await browser.get(f"{people}/{visitor.id}", headers={"authorization": f"Bearer {token}"})
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()["name"] == "Vera After"


async def test_the_callback_url_is_stored_sealed(
    operator: Operator, world: World, issue: Any, receiver: Receiver, worker: Any, state: Any, db: Any
) -> None:
    browser = operator.browser
    token = await issue(world.admin, scopes="write_subscriptions")
    secret_value = "s3cret-of-the-app-4711"
    callback = f"{receiver.url}?secret={secret_value}"
    sub = await subscribe(browser, token, "canceled_membership", callback)
    assert sub["callback_url"] == callback
    receiver.secret = sub["secret"]

    engine = create_engine(state.settings, pool_size=1)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(select(WebhookEndpoint.__table__))).all()
    finally:
        await engine.dispose()
    assert len(rows) == 1
    assert all(secret_value not in str(value) for value in rows[0])
    assert all("127.0.0.1" not in str(value) for value in rows[0])

    listed = await browser.get("/api/subscriptions", headers=auth(token))
    assert listed.status_code == 200
    assert [s["callback_url"] for s in listed.json()] == [callback]
    admin_list = await browser.get(
        "/api/admin/webhooks", headers=await operator.headers("admin:webhooks:read")
    )
    assert [e["url"] for e in admin_list.json()["endpoints"]] == [callback]
    again = await browser.post(
        "/api/subscriptions",
        json={"event": "canceled_membership", "callback_url": callback},
        headers=auth(token),
    )
    assert again.status_code == 409
    # The same URL for another change is another subscription.
    await subscribe(browser, token, "confirmed_membership", callback)

    member = await spaces.membership_of(db, world.space.id, world.member.id)
    assert member is not None
    await spaces.cancel_membership(db, member.id, "2027-01-31")
    await db.commit()
    await drain(worker)
    assert receiver.rejected == []
    assert [(m["type"], m["data"]["change"]) for m in receiver.received] == [
        ("membership.changed", "canceled")
    ]
