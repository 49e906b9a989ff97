"""Cobot's webhook subscriptions on a space's host: ``POST/GET/DELETE <space>/api/subscriptions``
(docs/integrating.md, "Webhooks"), and what a subscription is sent."""

from __future__ import annotations

from typing import Any

from frontdesk.services import spaces
from tests.api.conftest import World
from tests.oauth_support import make_user, register_app
from tests.support import Browser
from tests.webhooks.receiver import Receiver

SPACE = {"host": "co-up.localhost:8000"}


def auth(token: str, host: dict[str, str] = SPACE) -> dict[str, str]:
    return {"authorization": f"Bearer {token}", **host}


async def test_subscribe_list_unsubscribe(
    browser: Browser, world: World, issue: Any, receiver: Receiver
) -> None:
    token = await issue(world.admin, scopes="write_subscriptions")
    body = {"event": "created_membership", "callback_url": receiver.url}
    created = await browser.post("/api/subscriptions", json=body, headers=auth(token))
    assert created.status_code == 201, created.text
    sub = created.json()
    assert sub["event"] == "created_membership"
    assert sub["callback_url"] == receiver.url
    assert sub["active"] is True
    assert sub["url"] == f"http://co-up.localhost:8000/api/subscriptions/{sub['id']}"
    assert sub["secret"].startswith("whsec_")
    listed = await browser.get("/api/subscriptions", headers=auth(token))
    assert listed.status_code == 200
    assert listed.json() == [{k: v for k, v in sub.items() if k != "secret"}]
    again = await browser.post("/api/subscriptions", json=body, headers=auth(token))
    assert again.status_code == 409
    gone = await browser.delete(f"/api/subscriptions/{sub['id']}", headers=auth(token))
    assert gone.status_code == 204
    assert (await browser.get("/api/subscriptions", headers=auth(token))).json() == []


async def test_rights_and_input(browser: Browser, world: World, issue: Any, state: Any, db: Any) -> None:
    body = {"event": "membership.created", "callback_url": "https://hooks.example/in"}
    reader = await issue(world.admin, scopes="read_subscriptions")
    assert (await browser.get("/api/subscriptions", headers=auth(reader))).status_code == 200
    refused = await browser.post("/api/subscriptions", json=body, headers=auth(reader))
    assert refused.status_code == 403
    assert refused.json()["error"] == "insufficient_scope"
    member = await issue(world.member, scopes="write_subscriptions")
    assert (await browser.post("/api/subscriptions", json=body, headers=auth(member))).status_code == 403
    admin = await issue(world.admin, scopes="write_subscriptions")
    on_main = await browser.post(
        "/api/subscriptions", json=body, headers={"authorization": f"Bearer {admin}"}
    )
    assert on_main.status_code == 404
    unknown = await browser.post(
        "/api/subscriptions", json={**body, "event": "booking_will_begin"}, headers=auth(admin)
    )
    assert unknown.status_code == 422
    not_of_a_space = await browser.post(
        "/api/subscriptions", json={**body, "event": "user.created"}, headers=auth(admin)
    )
    assert not_of_a_space.status_code == 422
    bad_url = await browser.post(
        "/api/subscriptions", json={**body, "callback_url": "javascript:alert(1)"}, headers=auth(admin)
    )
    assert bad_url.status_code == 422
    not_json_object = await browser.post(
        "/api/subscriptions", content=b"[1]", headers={**auth(admin), "content-type": "application/json"}
    )
    assert not_json_object.status_code == 400
    # Another app (the owner's test token: an admin of co-up) neither sees nor deletes it.
    sub = (await browser.post("/api/subscriptions", json=body, headers=auth(admin))).json()
    other = await register_app(state, db, world.owner, name="Other app", scopes="write_subscriptions")
    assert (await browser.get("/api/subscriptions", headers=auth(other.test_token))).json() == []
    deleted = await browser.delete(f"/api/subscriptions/{sub['id']}", headers=auth(other.test_token))
    assert deleted.status_code == 404


async def test_a_subscription_hears_its_space_only(
    browser: Browser, world: World, issue: Any, receiver: Receiver, worker: Any, state: Any, db: Any
) -> None:
    token = await issue(world.admin, scopes="write_subscriptions")
    sub = (
        await browser.post(
            "/api/subscriptions",
            json={"event": "created_membership", "callback_url": receiver.url},
            headers=auth(token),
        )
    ).json()
    receiver.secret = sub["secret"]
    newcomer = await make_user(state, db, "new@example.com", "Nina New")
    await spaces.add_member(db, world.other_space, email=newcomer.email)  # another space
    await db.commit()
    await spaces.add_member(db, world.space, email=newcomer.email)
    await db.commit()
    while await worker.run_once():
        pass
    assert receiver.rejected == []
    assert receiver.types() == ["membership.created"]
    data = receiver.received[0]["data"]
    assert data["space_id"] == world.space.id
    assert data["user_id"] == newcomer.id
