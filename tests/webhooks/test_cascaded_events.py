"""Events that used to be missed: confirming and canceling a membership is a
``membership.changed``; deleting a space, an account or an app sends the events of what went
with it (docs/integrating.md, "Webhooks"). Driven through the admin API, observed at a real
receiver."""

from __future__ import annotations

from typing import Any

from frontdesk.services import webhooks
from tests.api.admin_support import Operator, operator_fixture  # noqa: F401  (the operator fixture)
from tests.api.conftest import World
from tests.oauth_support import consent
from tests.support import Browser
from tests.webhooks.receiver import Receiver

TYPES = ["membership.changed", "membership.removed", "consent.revoked", "token.revoked"]


async def listen(state: Any, db: Any, receiver: Receiver, *types: str) -> None:
    _endpoint, secret = await webhooks.create_endpoint(
        db, state.server_secret, state.settings, url=receiver.url, event_types=list(types)
    )
    await db.commit()
    receiver.secret = secret


async def drain(worker: Any, receiver: Receiver) -> list[tuple[str, dict[str, Any]]]:
    while await worker.run_once():
        pass
    assert receiver.rejected == []
    return [(m["type"], m["data"]) for m in receiver.received]


async def connect(new_browser: Any, app: Any, email: str, host: str = "localhost:8000") -> None:
    """``email`` approves the app on ``host`` (a consent on record there)."""
    b: Browser = new_browser(host)
    assert (await b.login(email)).status_code == 303
    approved = await consent(b, app, scope="read_user")
    assert approved.status_code == 303, approved.text


async def test_confirm_and_cancel_are_membership_changes(
    operator: Operator, world: World, receiver: Receiver, worker: Any, state: Any, db: Any
) -> None:
    await listen(state, db, receiver, "membership.changed")
    browser = operator.browser
    write = await operator.headers("admin:memberships:write")
    listed = await browser.get(
        f"/api/admin/spaces/{world.space.id}/memberships",
        headers=await operator.headers("admin:memberships:read"),
    )
    assert listed.status_code == 200, listed.text
    [member] = [m for m in listed.json()["memberships"] if m["user_id"] == world.member.id]
    base = f"/api/admin/spaces/{world.space.id}/memberships/{member['id']}"
    at = "2027-01-02T03:04:05+00:00"
    assert (
        await browser.post(f"{base}/confirm", json={"confirmed_at": at}, headers=write)
    ).status_code == 200
    # The same again changes nothing, and says nothing.
    assert (
        await browser.post(f"{base}/confirm", json={"confirmed_at": at}, headers=write)
    ).status_code == 200
    canceled = await browser.post(f"{base}/cancel", json={"canceled_to": "2027-03-31"}, headers=write)
    assert canceled.status_code == 200
    withdrawn = await browser.post(f"{base}/cancel", json={"canceled_to": None}, headers=write)
    assert withdrawn.status_code == 200
    got = await drain(worker, receiver)
    assert [(t, d["membership_id"], d["change"]) for t, d in got] == [
        ("membership.changed", member["id"], "confirmed"),
        ("membership.changed", member["id"], "canceled"),
        ("membership.changed", member["id"], "uncanceled"),
    ]
    assert got[1][1]["canceled_to"] == "2027-03-31"
    assert {d["space_id"] for _t, d in got} == {world.space.id}


async def test_deleting_a_space_removes_its_memberships_tokens_and_consents(
    operator: Operator,
    new_browser: Any,
    world: World,
    issue: Any,
    receiver: Receiver,
    worker: Any,
    state: Any,
    db: Any,
) -> None:
    await listen(state, db, receiver, *TYPES)
    await issue(world.admin, scopes="read_memberships", space_id=world.space.id)  # a space token
    await connect(new_browser, world.app, "member@example.com", host="co-up.localhost:8000")
    deleted = await operator.browser.delete(
        f"/api/admin/spaces/{world.space.id}", headers=await operator.headers("admin:spaces:write")
    )
    assert deleted.status_code == 204, deleted.text
    got = await drain(worker, receiver)
    removed = sorted(d["user_id"] for t, d in got if t == "membership.removed")
    assert removed == sorted([world.owner.id, world.admin.id, world.member.id])
    assert {d["space_id"] for t, d in got if t == "membership.removed"} == {world.space.id}
    [revoked] = [d for t, d in got if t == "token.revoked"]
    assert (revoked["space_id"], revoked["app_id"], revoked["count"]) == (
        world.space.id,
        world.app.client_id,
        1,
    )
    assert [(d["user_id"], d["app_id"], d["space_id"]) for t, d in got if t == "consent.revoked"] == [
        (world.member.id, world.app.client_id, world.space.id)
    ]


async def test_deleting_an_account_removes_its_memberships_and_consents(
    operator: Operator, new_browser: Any, world: World, receiver: Receiver, worker: Any, state: Any, db: Any
) -> None:
    await listen(state, db, receiver, *TYPES, "user.deleted")
    await connect(new_browser, world.app, "member@example.com")
    await connect(new_browser, world.app, "member@example.com", host="co-up.localhost:8000")
    deleted = await operator.browser.delete(
        f"/api/admin/users/{world.member.id}", headers=await operator.headers("admin:users:write")
    )
    assert deleted.status_code == 204, deleted.text
    got = await drain(worker, receiver)
    assert [(d["user_id"], d["space_id"]) for t, d in got if t == "membership.removed"] == [
        (world.member.id, world.space.id)
    ]
    consents = sorted((d["space_id"] or "", d["app_id"]) for t, d in got if t == "consent.revoked")
    assert consents == sorted([("", world.app.client_id), (world.space.id, world.app.client_id)])
    assert [t for t, _d in got][-1] == "user.deleted"


async def test_deleting_an_app_revokes_its_consents(
    operator: Operator, new_browser: Any, world: World, receiver: Receiver, worker: Any, state: Any, db: Any
) -> None:
    await listen(state, db, receiver, "consent.revoked", "app.deleted")
    await connect(new_browser, world.app, "member@example.com")
    await connect(new_browser, world.app, "out@example.com")
    deleted = await operator.browser.delete(
        f"/api/admin/apps/{world.app.client_id}", headers=await operator.headers("admin:apps:write")
    )
    assert deleted.status_code == 204, deleted.text
    got = await drain(worker, receiver)
    revoked = sorted(d["user_id"] for t, d in got if t == "consent.revoked")
    assert revoked == sorted([world.member.id, world.outsider.id])
    assert {d["app_id"] for _t, d in got} == {world.app.client_id}
    assert [t for t, _d in got][-1] == "app.deleted"
