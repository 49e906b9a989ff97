"""``/api/admin/spaces`` and their memberships: create, update, custom domain, delete; add,
change role, confirm, cancel, remove."""

from __future__ import annotations

from typing import Any

from frontdesk.services import spaces
from tests.api.admin_support import Operator, operator_fixture  # noqa: F401  (the operator fixture)
from tests.oauth_support import make_user

SPACES = "admin:spaces:read admin:spaces:write"
MEMBERS = "admin:memberships:read admin:memberships:write"


async def test_space_lifecycle(operator: Operator, state: Any, db: Any) -> None:
    owner = await make_user(state, db, "owner@example.com", "Owner")
    b = operator.browser
    headers = await operator.headers(SPACES)
    made = await b.post(
        "/api/admin/spaces",
        json={"subdomain": "harbour", "name": "Harbour", "owner_id": owner.id},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    space = made.json()
    assert space["subdomain"] == "harbour"
    assert space["url"] == "http://harbour.localhost:8000"
    assert (await b.get("/api/admin/spaces/harbour", headers=headers)).json()["id"] == space["id"]
    listed = await b.get("/api/admin/spaces", headers=headers)
    assert [s["subdomain"] for s in listed.json()["spaces"]] == ["harbour"]
    renamed = await b.http.patch(
        f"/api/admin/spaces/{space['id']}", json={"name": "Harbour Co"}, headers=headers
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "Harbour Co"
    assert (await b.delete(f"/api/admin/spaces/{space['id']}", headers=headers)).status_code == 204
    assert (await b.get(f"/api/admin/spaces/{space['id']}", headers=headers)).status_code == 404


async def test_custom_domain_waits_for_its_dns_record(operator: Operator, state: Any, db: Any) -> None:
    owner = await make_user(state, db, "owner@example.com", "Owner")
    b = operator.browser
    headers = await operator.headers(SPACES)
    made = await b.post(
        "/api/admin/spaces", json={"subdomain": "quay", "name": "Quay", "owner_id": owner.id}, headers=headers
    )
    space_id = made.json()["id"]
    changed = await b.http.patch(
        f"/api/admin/spaces/{space_id}", json={"custom_domain": "members.quay.example"}, headers=headers
    )
    assert changed.status_code == 200, changed.text
    domain = changed.json()["domain"]
    assert changed.json()["custom_domain"] is None
    assert domain["pending"] == "members.quay.example"
    assert domain["record_name"] == "_frontdesk-challenge.members.quay.example"
    assert domain["record_value"].startswith("frontdesk-verification=")
    # Renaming keeps the pending domain.
    renamed = await b.http.patch(f"/api/admin/spaces/{space_id}", json={"name": "Quay 2"}, headers=headers)
    assert renamed.json()["domain"]["pending"] == "members.quay.example"
    cleared = await b.http.patch(f"/api/admin/spaces/{space_id}", json={"custom_domain": ""}, headers=headers)
    assert cleared.json()["domain"]["pending"] is None


async def test_list_with_search_and_cursor(operator: Operator, state: Any, db: Any) -> None:
    owner = await make_user(state, db, "owner@example.com", "Owner")
    for n in range(5):
        await spaces.create_space(db, state.settings, subdomain=f"desk{n}", name=f"Desk {n}", owner=owner)
    await spaces.create_space(
        db, state.settings, subdomain="quay", name="Quay", owner=owner, custom_domain="members.quay.example"
    )
    await db.commit()
    headers = await operator.headers(SPACES)
    b = operator.browser
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"search": "DESK", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = await b.get("/api/admin/spaces", params=params, headers=headers)
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["spaces"]) <= 2
        seen += [s["subdomain"] for s in body["spaces"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"desk{n}" for n in range(5)]
    # Each space carries its domain's state, read with the page.
    everything = (await b.get("/api/admin/spaces", headers=headers)).json()
    assert everything["next_cursor"] is None
    quay = next(s for s in everything["spaces"] if s["subdomain"] == "quay")
    assert quay["domain"]["pending"] == "members.quay.example"
    assert quay["domain"]["record_name"] == "_frontdesk-challenge.members.quay.example"
    bad = await b.get("/api/admin/spaces", params={"cursor": "%%%"}, headers=headers)
    assert bad.status_code == 400
    too_many = await b.get("/api/admin/spaces", params={"limit": 100000}, headers=headers)
    assert too_many.status_code == 400


async def test_bad_space_input_is_400(operator: Operator, state: Any, db: Any) -> None:
    owner = await make_user(state, db, "owner@example.com", "Owner")
    headers = await operator.headers(SPACES)
    b = operator.browser
    bad = await b.post(
        "/api/admin/spaces", json={"subdomain": "-bad-", "name": "X", "owner_id": owner.id}, headers=headers
    )
    assert bad.status_code == 400
    nobody = await b.post(
        "/api/admin/spaces", json={"subdomain": "fine", "name": "X", "owner_id": "nobody"}, headers=headers
    )
    assert nobody.status_code == 404


async def test_membership_lifecycle(operator: Operator, state: Any, db: Any) -> None:
    owner = await make_user(state, db, "owner@example.com", "Owner")
    mia = await make_user(state, db, "mia@example.com", "Mia")
    b = operator.browser
    made = await b.post(
        "/api/admin/spaces",
        json={"subdomain": "co-up", "name": "Co-Up", "owner_id": owner.id},
        headers=await operator.headers(SPACES),
    )
    space_id = made.json()["id"]
    headers = await operator.headers(MEMBERS)
    base = f"/api/admin/spaces/{space_id}/memberships"
    added = await b.post(base, json={"user_id": mia.id, "confirmed": False}, headers=headers)
    assert added.status_code == 201, added.text
    membership = added.json()
    assert membership["role"] == "member"
    assert membership["confirmed_at"] is None
    again = await b.post(base, json={"user_id": mia.id}, headers=headers)
    assert again.status_code == 409
    url = f"{base}/{membership['id']}"
    confirmed = await b.post(
        f"{url}/confirm", json={"confirmed_at": "2026-01-02T03:04:05+00:00"}, headers=headers
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["confirmed_at"].startswith("2026-01-02T03:04:05")
    canceled = await b.post(f"{url}/cancel", json={"canceled_to": "2027-01-31"}, headers=headers)
    assert canceled.json()["canceled_to"] == "2027-01-31"
    bad_day = await b.post(f"{url}/cancel", json={"canceled_to": "soon"}, headers=headers)
    assert bad_day.status_code == 400
    promoted = await b.http.patch(url, json={"role": "admin"}, headers=headers)
    assert promoted.json()["role"] == "admin"
    assert (await b.http.patch(url, json={"role": "king"}, headers=headers)).status_code == 400
    listed = await b.get(base, headers=headers)
    assert sorted(m["email"] for m in listed.json()["memberships"]) == [
        "mia@example.com",
        "owner@example.com",
    ]
    assert (await b.delete(url, headers=headers)).status_code == 204
    assert (await b.get(url, headers=headers)).status_code == 404


async def test_the_owner_stays_an_admin(operator: Operator, state: Any, db: Any) -> None:
    owner = await make_user(state, db, "owner@example.com", "Owner")
    b = operator.browser
    made = await b.post(
        "/api/admin/spaces",
        json={"subdomain": "co-up", "name": "Co-Up", "owner_id": owner.id},
        headers=await operator.headers(SPACES),
    )
    headers = await operator.headers(MEMBERS)
    base = f"/api/admin/spaces/{made.json()['id']}/memberships"
    own = (await b.get(base, headers=headers)).json()["memberships"][0]
    response = await b.delete(f"{base}/{own['id']}", headers=headers)
    assert response.status_code == 400


async def test_a_membership_of_another_space_is_not_found(operator: Operator, state: Any, db: Any) -> None:
    a = await make_user(state, db, "a@example.com", "A")
    z = await make_user(state, db, "z@example.com", "Z")
    b = operator.browser
    sh = await operator.headers(SPACES)
    one = (
        await b.post(
            "/api/admin/spaces", json={"subdomain": "one", "name": "One", "owner_id": a.id}, headers=sh
        )
    ).json()
    two = (
        await b.post(
            "/api/admin/spaces", json={"subdomain": "two", "name": "Two", "owner_id": z.id}, headers=sh
        )
    ).json()
    headers = await operator.headers(MEMBERS)
    theirs = (await b.get(f"/api/admin/spaces/{two['id']}/memberships", headers=headers)).json()[
        "memberships"
    ][0]
    response = await b.delete(f"/api/admin/spaces/{one['id']}/memberships/{theirs['id']}", headers=headers)
    assert response.status_code == 404
