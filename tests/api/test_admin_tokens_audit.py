"""``/api/admin/tokens`` (list, revoke by token, user, app, space) and ``/api/admin/audit``
(filters, cursor pagination)."""

from __future__ import annotations

from typing import Any

from frontdesk.services import spaces
from tests.api.admin_support import Operator, operator_fixture  # noqa: F401  (the operator fixture)
from tests.oauth_support import make_user, password_grant, register_app

TOKENS = "admin:tokens:read admin:tokens:write"
AUDIT = "admin:audit:read"


async def _user_token(
    operator: Operator, state: Any, db: Any, new_browser: Any, email: str
) -> tuple[Any, Any, str]:
    person = await make_user(state, db, email, "Someone")
    app = await register_app(state, db, operator.owner, name=f"App of {email}", scopes="read_user")
    b = new_browser()
    token = (await password_grant(b, app, username=email)).json()["access_token"]
    return person, app, token


async def test_revoke_by_user(operator: Operator, state: Any, db: Any, new_browser: Any) -> None:
    pat, _, pat_token = await _user_token(operator, state, db, new_browser, "pat@example.com")
    _, _, kim_token = await _user_token(operator, state, db, new_browser, "kim@example.com")
    b = operator.browser
    headers = await operator.headers(TOKENS)
    listed = await b.get("/api/admin/tokens", params={"user_id": pat.id}, headers=headers)
    assert [t["user_id"] for t in listed.json()["tokens"]] == [pat.id]
    revoked = await b.post("/api/admin/tokens/revoke", json={"user_id": pat.id}, headers=headers)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["access_tokens"] == 1
    assert (await b.get("/api/user", headers={"authorization": f"Bearer {pat_token}"})).status_code == 401
    assert (await b.get("/api/user", headers={"authorization": f"Bearer {kim_token}"})).status_code == 200


async def test_revoke_by_app_and_by_token_id(
    operator: Operator, state: Any, db: Any, new_browser: Any
) -> None:
    _, app, token = await _user_token(operator, state, db, new_browser, "pat@example.com")
    _, _, other = await _user_token(operator, state, db, new_browser, "kim@example.com")
    b = operator.browser
    headers = await operator.headers(TOKENS)
    by_app = await b.post("/api/admin/tokens/revoke", json={"client_id": app.client_id}, headers=headers)
    assert by_app.json()["access_tokens"] == 2  # the person's and the owner's test token
    assert (await b.get("/api/user", headers={"authorization": f"Bearer {token}"})).status_code == 401
    live = (await b.get("/api/admin/tokens", headers=headers)).json()["tokens"]
    kim_token_id = next(t["id"] for t in live if t["grant_type"] == "password")
    one = await b.post("/api/admin/tokens/revoke", json={"token_id": kim_token_id}, headers=headers)
    assert one.json()["access_tokens"] == 1
    assert (await b.get("/api/user", headers={"authorization": f"Bearer {other}"})).status_code == 401
    unknown = await b.post("/api/admin/tokens/revoke", json={"token_id": "nope"}, headers=headers)
    assert unknown.status_code == 404
    nothing = await b.post("/api/admin/tokens/revoke", json={}, headers=headers)
    assert nothing.status_code == 400


async def test_revoke_by_space(operator: Operator, state: Any, db: Any, new_browser: Any) -> None:
    pat, _, token = await _user_token(operator, state, db, new_browser, "pat@example.com")
    space = await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=pat)
    await db.commit()
    b = new_browser()
    made = await b.post(f"/api/access_tokens/{token}/space", data={"space_id": "co-up"})
    assert made.status_code == 201, made.text
    space_token = made.json()["token"]
    headers = await operator.headers(TOKENS)
    revoked = await operator.browser.post(
        "/api/admin/tokens/revoke", json={"space_id": space.id}, headers=headers
    )
    assert revoked.json()["access_tokens"] == 1
    assert (await b.get("/api/user", headers={"authorization": f"Bearer {space_token}"})).status_code == 401
    assert (await b.get("/api/user", headers={"authorization": f"Bearer {token}"})).status_code == 200


async def test_tokens_pages_by_cursor(operator: Operator, state: Any, db: Any, new_browser: Any) -> None:
    for n in range(3):
        await _user_token(operator, state, db, new_browser, f"p{n}@example.com")
    headers = await operator.headers(TOKENS)
    b = operator.browser
    ids: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = (await b.get("/api/admin/tokens", params=params, headers=headers)).json()
        ids += [t["id"] for t in body["tokens"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    everything = (await b.get("/api/admin/tokens", params={"limit": 200}, headers=headers)).json()["tokens"]
    assert ids == [t["id"] for t in everything]
    assert len(set(ids)) == len(ids)


async def test_audit_filters_and_cursor(operator: Operator, state: Any, db: Any, new_browser: Any) -> None:
    pat, app, _ = await _user_token(operator, state, db, new_browser, "pat@example.com")
    for _ in range(3):
        await password_grant(new_browser(), app)
    headers = await operator.headers(AUDIT)
    b = operator.browser
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"user_id": pat.id, "kind": "token", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = await b.get("/api/admin/audit", params=params, headers=headers)
        assert page.status_code == 200, page.text
        body = page.json()
        assert all(e["event"].startswith("token.") and e["user_id"] == pat.id for e in body["events"])
        seen += [e["id"] for e in body["events"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 4 and len(set(seen)) == 4
    by_app = await b.get(
        "/api/admin/audit", params={"app_id": app.client_id, "kind": "token.issued"}, headers=headers
    )
    assert len(by_app.json()["events"]) == 4
    future = await b.get("/api/admin/audit", params={"since": "2999-01-01T00:00:00Z"}, headers=headers)
    assert future.json()["events"] == []
    past = await b.get("/api/admin/audit", params={"until": "2000-01-01T00:00:00"}, headers=headers)
    assert past.json()["events"] == []
    bad = await b.get("/api/admin/audit", params={"since": "yesterday"}, headers=headers)
    assert bad.status_code == 400
