"""``/api/admin/webhooks``: the operator's endpoints over HTTP (client_credentials tokens with
``admin:webhooks:read`` / ``admin:webhooks:write``), their delivery log and "send again"."""

from __future__ import annotations

from typing import Any

from tests.api.admin_support import Operator, operator_fixture  # noqa: F401  (the operator fixture)
from tests.oauth_support import make_user
from tests.webhooks.receiver import Receiver

READ, WRITE = "admin:webhooks:read", "admin:webhooks:write"


async def test_add_list_log_resend_remove(
    operator: Operator, receiver: Receiver, worker: Any, state: Any, db: Any
) -> None:
    browser = operator.browser
    write = await operator.headers(WRITE)
    made = await browser.post(
        "/api/admin/webhooks", json={"url": receiver.url, "events": ["user.created"]}, headers=write
    )
    assert made.status_code == 201, made.text
    endpoint = made.json()
    assert endpoint["events"] == ["user.created"] and endpoint["space_id"] is None
    receiver.secret = endpoint["secret"]
    read = await operator.headers(READ)
    listed = (await browser.get("/api/admin/webhooks", headers=read)).json()["endpoints"]
    assert [e["id"] for e in listed] == [endpoint["id"]]
    assert "secret" not in listed[0]

    person = await make_user(state, db, "new@example.com", "Nina New")
    while await worker.run_once():
        pass
    assert receiver.types() == ["user.created"]
    assert receiver.received[0]["data"]["user_id"] == person.id
    log = await browser.get(f"/api/admin/webhooks/{endpoint['id']}/deliveries", headers=read)
    assert log.status_code == 200
    [delivery] = log.json()["deliveries"]
    assert (delivery["status"], delivery["attempts"], delivery["response_status"]) == ("delivered", 1, 204)

    again = await browser.post(
        "/api/admin/webhooks/deliveries/resend", json={"delivery": delivery["delivery"]}, headers=write
    )
    assert again.status_code == 201
    while await worker.run_once():
        pass
    assert receiver.ids == [delivery["message_id"], delivery["message_id"]]

    gone = await browser.delete(f"/api/admin/webhooks/{endpoint['id']}", headers=write)
    assert gone.status_code == 204
    assert (await browser.get("/api/admin/webhooks", headers=read)).json() == {"endpoints": []}


async def test_scopes_and_bad_input(operator: Operator) -> None:
    browser = operator.browser
    read = await operator.headers(READ)
    refused = await browser.post("/api/admin/webhooks", json={"url": "https://hooks.example/x"}, headers=read)
    assert refused.status_code == 403
    users_only = await operator.headers("admin:users:read")
    assert (await browser.get("/api/admin/webhooks", headers=users_only)).status_code == 403
    write = await operator.headers(WRITE)
    unknown = await browser.post(
        "/api/admin/webhooks", json={"url": "https://hooks.example/x", "events": ["nope"]}, headers=write
    )
    assert unknown.status_code == 400
    huge = await browser.post(
        "/api/admin/webhooks/deliveries/resend", json={"delivery": 10**30}, headers=write
    )
    assert huge.status_code == 400
    missing = await browser.post(
        "/api/admin/webhooks/deliveries/resend", json={"delivery": 12345}, headers=write
    )
    assert missing.status_code == 404
    assert (await browser.get("/api/admin/webhooks/nope/deliveries", headers=write)).status_code == 403
    no_such = await browser.get("/api/admin/webhooks/nope/deliveries", headers=await operator.headers(READ))
    assert no_such.status_code == 404
