"""``/api/admin/users``: create (with a password, an imported hash, or none), list with search
and cursor, read, update, disable, delete; each change in the audit log."""

from __future__ import annotations

from typing import Any

from tests.api.admin_support import Operator, operator_fixture  # noqa: F401  (the operator fixture)
from tests.oauth_support import make_user, password_grant, register_app
from tests.support import PASSWORD, Browser

READ = "admin:users:read"
WRITE = "admin:users:write"


async def test_create_read_and_log_in(operator: Operator, new_browser: Any) -> None:
    b = operator.browser
    made = await b.post(
        "/api/admin/users",
        json={"email": "New@Example.com", "name": "Nia New", "password": PASSWORD},
        headers=await operator.headers(WRITE),
    )
    assert made.status_code == 201, made.text
    user = made.json()
    assert user["email"] == "New@example.com"
    assert user["disabled"] is False
    got = await b.get(f"/api/admin/users/{user['id']}", headers=await operator.headers(READ))
    assert got.status_code == 200
    assert got.json() == user
    person = new_browser()
    assert (await person.login("new@example.com")).status_code == 303


async def test_create_without_a_password_cannot_log_in(operator: Operator, new_browser: Any) -> None:
    made = await operator.browser.post(
        "/api/admin/users", json={"email": "nopw@example.com"}, headers=await operator.headers(WRITE)
    )
    assert made.status_code == 201, made.text
    person = new_browser()
    response = await person.login("nopw@example.com", "")
    assert response.status_code == 401  # the form again, not a session


async def test_bad_input_is_400_not_500(operator: Operator) -> None:
    headers = await operator.headers(WRITE)
    b = operator.browser
    assert (
        await b.post("/api/admin/users", json={"email": "not an email"}, headers=headers)
    ).status_code == 400
    assert (await b.post("/api/admin/users", json={"email": 5}, headers=headers)).status_code == 400
    assert (
        await b.post("/api/admin/users", json={"emial": "x@example.com"}, headers=headers)
    ).status_code == 400
    assert (
        await b.post(
            "/api/admin/users", content=b"{", headers={**headers, "content-type": "application/json"}
        )
    ).status_code == 400
    weak = await b.post(
        "/api/admin/users", json={"email": "w@example.com", "password": "abc"}, headers=headers
    )
    assert weak.status_code == 400
    bad_hash = await b.post(
        "/api/admin/users", json={"email": "h@example.com", "password_hash": "plaintext"}, headers=headers
    )
    assert bad_hash.status_code == 400


async def test_duplicate_email_is_refused(operator: Operator) -> None:
    headers = await operator.headers(WRITE)
    b = operator.browser
    assert (
        await b.post("/api/admin/users", json={"email": "d@example.com"}, headers=headers)
    ).status_code == 201
    assert (
        await b.post("/api/admin/users", json={"email": "D@example.com"}, headers=headers)
    ).status_code == 400


async def test_list_with_search_and_cursor(operator: Operator, state: Any, db: Any) -> None:
    for n in range(5):
        await make_user(state, db, f"member{n}@example.com", f"Member {n}")
    await make_user(state, db, "zed@other.test", "Zed")
    headers = await operator.headers(READ)
    b = operator.browser
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"search": "member", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = await b.get("/api/admin/users", params=params, headers=headers)
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["users"]) <= 2
        seen += [u["email"] for u in body["users"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"member{n}@example.com" for n in range(5)]
    bad = await b.get("/api/admin/users", params={"cursor": "%%%"}, headers=headers)
    assert bad.status_code == 400
    too_many = await b.get("/api/admin/users", params={"limit": 100000}, headers=headers)
    assert too_many.status_code == 400


async def test_update_name_email_and_password(
    operator: Operator, state: Any, db: Any, new_browser: Any
) -> None:
    person = await make_user(state, db, "old@example.com", "Old")
    changed = await operator.browser.http.patch(
        f"/api/admin/users/{person.id}",
        json={"name": "Renamed", "email": "renamed@example.com", "password": "another long passphrase 42"},
        headers=await operator.headers(WRITE),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["email"] == "renamed@example.com"
    assert changed.json()["name"] == "Renamed"
    b = new_browser()
    assert (await b.login("renamed@example.com", "another long passphrase 42")).status_code == 303


async def test_email_taken_by_another_account_is_refused(operator: Operator, state: Any, db: Any) -> None:
    a = await make_user(state, db, "a@example.com", "A")
    await make_user(state, db, "b@example.com", "B")
    response = await operator.browser.http.patch(
        f"/api/admin/users/{a.id}", json={"email": "B@example.com"}, headers=await operator.headers(WRITE)
    )
    assert response.status_code == 400


async def test_disable_stops_login_and_revokes_tokens(
    operator: Operator, state: Any, db: Any, new_browser: Any
) -> None:
    person = await make_user(state, db, "pat@example.com", "Pat")
    app = await register_app(state, db, operator.owner, scopes="read_user")
    b = new_browser()
    token = (await password_grant(b, app)).json()["access_token"]
    assert (await b.get("/api/user", headers={"authorization": f"Bearer {token}"})).status_code == 200
    disabled = await operator.browser.http.patch(
        f"/api/admin/users/{person.id}", json={"disabled": True}, headers=await operator.headers(WRITE)
    )
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["disabled"] is True
    assert (await b.get("/api/user", headers={"authorization": f"Bearer {token}"})).status_code == 401
    assert (await password_grant(b, app)).status_code == 400
    assert (await new_browser().login("pat@example.com")).status_code == 401
    enabled = await operator.browser.http.patch(
        f"/api/admin/users/{person.id}", json={"disabled": False}, headers=await operator.headers(WRITE)
    )
    assert enabled.json()["disabled"] is False
    assert (await password_grant(b, app)).status_code == 200


async def test_delete(operator: Operator, state: Any, db: Any) -> None:
    person = await make_user(state, db, "gone@example.com", "Gone")
    headers = await operator.headers(f"{READ} {WRITE}")
    b = operator.browser
    assert (await b.delete(f"/api/admin/users/{person.id}", headers=headers)).status_code == 204
    assert (await b.get(f"/api/admin/users/{person.id}", headers=headers)).status_code == 404
    assert (await b.delete(f"/api/admin/users/{person.id}", headers=headers)).status_code == 404


async def test_every_change_is_audited(operator: Operator, browser: Browser) -> None:
    made = await browser.post(
        "/api/admin/users", json={"email": "audited@example.com"}, headers=await operator.headers(WRITE)
    )
    user_id = made.json()["id"]
    log = await browser.get(
        "/api/admin/audit",
        params={"kind": "admin.action", "app_id": operator.app.client_id},
        headers=await operator.headers("admin:audit:read"),
    )
    assert log.status_code == 200, log.text
    actions = [(e["detail"]["action"], e["user_id"]) for e in log.json()["events"]]
    assert ("users.create", user_id) in actions
