"""``/scim/v2`` (RFC 7643, RFC 7644): users and spaces-as-groups for identity providers, checked
through HTTP and against the admin API (docs/integrating.md, "SCIM 2.0")."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.admin_support import Operator, operator_fixture  # noqa: F401  (the operator fixture)
from tests.oauth_support import password_grant, register_app
from tests.support import PASSWORD, Browser

SCIM = "application/scim+json"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


class Scim:
    """An identity provider calling /scim/v2 with a client_credentials token holding ``scim``."""

    def __init__(self, browser: Browser, headers: dict[str, str]) -> None:
        self.b = browser
        self.headers = {**headers, "content-type": SCIM}

    async def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        return await self.b.http.request(
            method,
            "/scim/v2" + path,
            json=body,
            headers={**self.headers, **kwargs.pop("headers", {})},
            **kwargs,
        )

    async def create_user(self, email: str, **extra: Any) -> dict[str, Any]:
        body = {"schemas": [USER], "userName": email, "emails": [{"value": email, "primary": True}], **extra}
        r = await self.call("POST", "/Users", body)
        assert r.status_code == 201, r.text
        made: dict[str, Any] = r.json()
        return made


@pytest.fixture
async def scim(operator: Operator) -> Scim:
    return Scim(operator.browser, await operator.headers("scim"))


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


async def test_create_read_and_log_in(scim: Scim, operator: Operator, new_browser: Any) -> None:
    made = await scim.create_user(
        "Ada@Example.com",
        name={"givenName": "Ada", "familyName": "Lovelace"},
        displayName="Ada Lovelace",
        externalId="okta-00u1",
        password=PASSWORD,
        active=True,
    )
    assert made["userName"] == "Ada@example.com"
    assert made["displayName"] == "Ada Lovelace"
    assert made["externalId"] == "okta-00u1"
    assert made["active"] is True
    assert "password" not in made
    assert made["meta"]["location"] == f"http://localhost:8000/scim/v2/Users/{made['id']}"
    got = await scim.call("GET", f"/Users/{made['id']}")
    assert got.status_code == 200
    assert got.headers["content-type"].startswith(SCIM)
    assert got.json()["name"] == {"givenName": "Ada", "familyName": "Lovelace"}
    admin_view = await operator.browser.get(
        f"/api/admin/users/{made['id']}", headers=await operator.headers("admin:users:read")
    )
    assert admin_view.status_code == 200
    assert admin_view.json()["email"] == "Ada@example.com"
    assert admin_view.json()["name"] == "Ada Lovelace"
    person = new_browser()
    assert (await person.login("ada@example.com")).status_code == 303


async def test_a_user_name_other_than_the_email_is_kept(scim: Scim) -> None:
    body = {"schemas": [USER], "userName": "ada.upn@corp.example", "emails": [{"value": "ada@example.com"}]}
    made = await scim.call("POST", "/Users", body)
    assert made.status_code == 201, made.text
    assert made.json()["userName"] == "ada.upn@corp.example"
    assert made.json()["emails"] == [{"value": "ada@example.com"}]
    found = await scim.call("GET", "/Users", params={"filter": 'userName eq "ADA.UPN@corp.example"'})
    assert [u["id"] for u in found.json()["Resources"]] == [made.json()["id"]]


async def test_taken_user_name_and_email_are_409(scim: Scim) -> None:
    await scim.create_user("bob@example.com")
    again = await scim.call(
        "POST",
        "/Users",
        {"schemas": [USER], "userName": "BOB@example.com", "emails": [{"value": "b2@example.com"}]},
    )
    assert again.status_code == 409
    assert again.json()["scimType"] == "uniqueness"
    assert again.json()["schemas"] == [ERROR]
    same_email = await scim.call(
        "POST", "/Users", {"schemas": [USER], "userName": "robert", "emails": [{"value": "bob@example.com"}]}
    )
    assert same_email.status_code == 409


async def test_weak_password_and_missing_email_are_400(scim: Scim) -> None:
    weak = await scim.call(
        "POST",
        "/Users",
        {
            "schemas": [USER],
            "userName": "w@example.com",
            "emails": [{"value": "w@example.com"}],
            "password": "abc",
        },
    )
    assert weak.status_code == 400
    assert weak.json()["scimType"] == "invalidValue"
    no_email = await scim.call("POST", "/Users", {"schemas": [USER], "userName": "nobody"})
    assert no_email.status_code == 400


async def test_unknown_attributes_are_ignored(scim: Scim) -> None:
    made = await scim.create_user("t@example.com", title="Boss", nickName="T")
    assert "title" not in made


async def test_filters_and_pagination(scim: Scim, operator: Operator) -> None:
    ids = [(await scim.create_user(f"u{i}@example.com", externalId=f"ext-{i}"))["id"] for i in range(5)]
    by_name = await scim.call("GET", "/Users", params={"filter": 'userName eq "u3@example.com"'})
    assert by_name.status_code == 200
    assert by_name.json()["totalResults"] == 1
    assert by_name.json()["Resources"][0]["id"] == ids[3]
    by_external = await scim.call("GET", "/Users", params={"filter": 'externalId eq "ext-2"'})
    assert [u["id"] for u in by_external.json()["Resources"]] == [ids[2]]
    none = await scim.call("GET", "/Users", params={"filter": 'externalId eq "EXT-2"'})
    assert none.json()["totalResults"] == 0
    other = await scim.call("GET", "/Users", params={"filter": 'emails.value co "u4@"'})
    assert [u["id"] for u in other.json()["Resources"]] == [ids[4]]
    # The operator (the admin app's owner) is an account too: six in all.
    page = await scim.call("GET", "/Users", params={"startIndex": "2", "count": "2"})
    body = page.json()
    assert body["totalResults"] == 6
    assert body["startIndex"] == 2
    assert body["itemsPerPage"] == 2
    assert [u["id"] for u in body["Resources"]] == ids[:2]
    searched = await scim.call("POST", "/Users/.search", {"filter": 'userName eq "u1@example.com"'})
    assert searched.status_code == 200
    assert searched.json()["Resources"][0]["id"] == ids[1]
    at_root = await scim.call("POST", "/.search", {"filter": 'userName eq "u1@example.com"'})
    assert at_root.status_code == 200
    assert [r["id"] for r in at_root.json()["Resources"]] == [ids[1]]
    bad = await scim.call("GET", "/Users", params={"filter": "userName eq"})
    assert bad.status_code == 400
    assert bad.json()["scimType"] == "invalidFilter"


async def test_patch_active_false_disables_and_ends_tokens(
    scim: Scim, operator: Operator, state: Any, db: Any, new_browser: Any
) -> None:
    made = await scim.create_user("dora@example.com", password=PASSWORD, active=True)
    app = await register_app(state, db, operator.owner, scopes="read_user")
    granted = await password_grant(operator.browser, app, "dora@example.com")
    assert granted.status_code == 200, granted.text
    token = granted.json()["access_token"]
    me = await operator.browser.get("/api/user", headers={"authorization": f"Bearer {token}"})
    assert me.status_code == 200
    # How Okta and Entra deactivate: PATCH replace active=false (Entra sends the value as text).
    r = await scim.call(
        "PATCH", f"/Users/{made['id']}", patch({"op": "Replace", "path": "active", "value": "False"})
    )
    assert r.status_code == 204
    got = (await scim.call("GET", f"/Users/{made['id']}")).json()
    assert got["active"] is False
    me = await operator.browser.get("/api/user", headers={"authorization": f"Bearer {token}"})
    assert me.status_code == 401
    person = new_browser()
    assert (await person.login("dora@example.com")).status_code == 401
    admin_view = await operator.browser.get(
        f"/api/admin/users/{made['id']}", headers=await operator.headers("admin:users:read")
    )
    assert admin_view.json()["disabled"] is True
    again = await scim.call(
        "PATCH", f"/Users/{made['id']}", patch({"op": "replace", "value": {"active": True}})
    )
    assert again.status_code == 204
    assert (await person.login("dora@example.com")).status_code == 303


async def test_put_changes_email_and_name(scim: Scim, operator: Operator) -> None:
    made = await scim.create_user("eve@example.com", displayName="Eve")
    replaced = await scim.call(
        "PUT",
        f"/Users/{made['id']}",
        {
            "schemas": [USER],
            "userName": "eve.new@example.com",
            "emails": [{"value": "eve.new@example.com"}],
            "displayName": "Eve New",
        },
    )
    assert replaced.status_code == 200, replaced.text
    admin_view = await operator.browser.get(
        f"/api/admin/users/{made['id']}", headers=await operator.headers("admin:users:read")
    )
    assert admin_view.json()["email"] == "eve.new@example.com"
    assert admin_view.json()["name"] == "Eve New"


async def test_delete_user_deletes_the_account(scim: Scim, operator: Operator) -> None:
    made = await scim.create_user("gone@example.com")
    r = await scim.call("DELETE", f"/Users/{made['id']}")
    assert r.status_code == 204
    assert (await scim.call("GET", f"/Users/{made['id']}")).status_code == 404
    admin_view = await operator.browser.get(
        f"/api/admin/users/{made['id']}", headers=await operator.headers("admin:users:read")
    )
    assert admin_view.status_code == 404


async def test_a_stale_etag_is_412(scim: Scim) -> None:
    made = await scim.create_user("etag@example.com", displayName="E")
    version = made["meta"]["version"]
    first = await scim.call(
        "PATCH",
        f"/Users/{made['id']}",
        patch({"op": "replace", "path": "displayName", "value": "E2"}),
        headers={"if-match": version},
    )
    assert first.status_code == 204
    stale = await scim.call(
        "PATCH",
        f"/Users/{made['id']}",
        patch({"op": "replace", "path": "displayName", "value": "E3"}),
        headers={"if-match": version},
    )
    assert stale.status_code == 412


async def test_groups_are_spaces_and_members_are_memberships(scim: Scim, operator: Operator) -> None:
    alice = await scim.create_user("alice@example.com")
    bob = await scim.create_user("bob@example.com")
    made = await scim.call(
        "POST",
        "/Groups",
        {
            "schemas": [GROUP],
            "displayName": "Berlin Café",
            "externalId": "grp-1",
            "members": [{"value": alice["id"]}],
        },
    )
    assert made.status_code == 201, made.text
    group = made.json()
    assert group["displayName"] == "Berlin Café"
    assert [m["value"] for m in group["members"]] == [alice["id"]]
    reader = await operator.headers("admin:spaces:read admin:memberships:read")
    space = await operator.browser.get(f"/api/admin/spaces/{group['id']}", headers=reader)
    assert space.status_code == 200
    assert space.json()["subdomain"] == "berlin-cafe"
    assert space.json()["owner_id"] == operator.owner.id

    async def member_ids() -> set[str]:
        r = await operator.browser.get(f"/api/admin/spaces/{group['id']}/memberships", headers=reader)
        return {m["user_id"] for m in r.json()["memberships"]}

    assert await member_ids() == {operator.owner.id, alice["id"]}
    # Okta and Entra: PATCH add and remove members.
    added = await scim.call(
        "PATCH",
        f"/Groups/{group['id']}",
        patch({"op": "add", "path": "members", "value": [{"value": bob["id"]}]}),
    )
    assert added.status_code == 204
    assert await member_ids() == {operator.owner.id, alice["id"], bob["id"]}
    removed = await scim.call(
        "PATCH",
        f"/Groups/{group['id']}",
        patch({"op": "remove", "path": f'members[value eq "{alice["id"]}"]'}),
    )
    assert removed.status_code == 204
    assert await member_ids() == {operator.owner.id, bob["id"]}
    found = await scim.call("GET", "/Groups", params={"filter": 'displayName eq "berlin café"'})
    assert [g["id"] for g in found.json()["Resources"]] == [group["id"]]
    audit = await operator.browser.get(
        "/api/admin/audit", params={"kind": "membership"}, headers=await operator.headers("admin:audit:read")
    )
    kinds = [e["event"] for e in audit.json()["events"]]
    assert "membership.created" in kinds and "membership.removed" in kinds
    # Renaming keeps the subdomain.
    renamed = await scim.call(
        "PATCH", f"/Groups/{group['id']}", patch({"op": "replace", "path": "displayName", "value": "Berlin"})
    )
    assert renamed.status_code == 204
    space = await operator.browser.get(f"/api/admin/spaces/{group['id']}", headers=reader)
    assert (space.json()["name"], space.json()["subdomain"]) == ("Berlin", "berlin-cafe")
    gone = await scim.call("DELETE", f"/Groups/{group['id']}")
    assert gone.status_code == 204
    space = await operator.browser.get(f"/api/admin/spaces/{group['id']}", headers=reader)
    assert space.status_code == 404


async def test_a_taken_subdomain_gets_a_suffix(scim: Scim) -> None:
    first = await scim.call("POST", "/Groups", {"schemas": [GROUP], "displayName": "Hub"})
    second = await scim.call("POST", "/Groups", {"schemas": [GROUP], "displayName": "HUB"})
    assert first.status_code == 201 and second.status_code == 201
    unknown_member = await scim.call(
        "POST", "/Groups", {"schemas": [GROUP], "displayName": "X", "members": [{"value": "nobody"}]}
    )
    assert unknown_member.status_code == 400


async def test_discovery(scim: Scim, operator: Operator) -> None:
    config = await operator.browser.get("/scim/v2/ServiceProviderConfig")
    assert config.status_code == 200
    assert config.json()["patch"]["supported"] is True
    assert config.json()["bulk"]["supported"] is False
    types = await scim.call("GET", "/ResourceTypes")
    assert {t["id"] for t in types.json()["Resources"]} == {"User", "Group"}
    schemas = await scim.call("GET", "/Schemas")
    user_schema = next(s for s in schemas.json()["Resources"] if s["id"] == USER)
    assert {a["name"] for a in user_schema["attributes"]} == {
        "userName",
        "name",
        "displayName",
        "active",
        "password",
        "emails",
    }
    assert (await scim.call("POST", "/Bulk", {})).status_code == 501
    assert (await scim.call("GET", "/Nothing")).status_code == 404


async def test_refusals(operator: Operator, state: Any, db: Any, new_browser: Any) -> None:
    b = operator.browser
    anonymous = await b.get("/scim/v2/Users")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert anonymous.json()["schemas"] == [ERROR]
    assert anonymous.json()["status"] == "401"
    bad = await b.get("/scim/v2/Users", headers={"authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert 'error="invalid_token"' in bad.headers["www-authenticate"]
    without_scim = await b.get("/scim/v2/Users", headers=await operator.headers("admin:users:read"))
    assert without_scim.status_code == 403
    assert 'error="insufficient_scope"' in without_scim.headers["www-authenticate"]
    assert without_scim.json()["status"] == "403"
    app = await register_app(state, db, operator.owner, scopes="read_user")
    persons = (await password_grant(b, app, operator.owner.email)).json()["access_token"]
    as_person = await b.get("/scim/v2/Users", headers={"authorization": f"Bearer {persons}"})
    assert as_person.status_code == 403
    from frontdesk.services import spaces

    await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=operator.owner)
    await db.commit()
    at_space = new_browser("co-up.localhost:8000")
    there = await at_space.get("/scim/v2/Users", headers=await operator.headers("scim"))
    assert there.status_code == 404


async def test_the_openapi_document_describes_scim(browser: Browser) -> None:
    doc = (await browser.get("/openapi.json")).json()
    (tag,) = [t for t in doc["tags"] if t["name"] == "scim"]
    assert "/scim/v2" in tag["description"]
    assert "/scim/v2/Schemas" in doc["info"]["description"]


async def test_patch_sets_a_checked_password(scim: Scim, new_browser: Any) -> None:
    made = await scim.create_user("pw@example.com")
    weak = await scim.call(
        "PATCH", f"/Users/{made['id']}", patch({"op": "replace", "path": "password", "value": "abc"})
    )
    assert weak.status_code == 400
    person = new_browser()
    assert (await person.login("pw@example.com")).status_code == 401
    r = await scim.call(
        "PATCH", f"/Users/{made['id']}", patch({"op": "replace", "path": "password", "value": PASSWORD})
    )
    assert r.status_code == 204
    assert (await person.login("pw@example.com")).status_code == 303


@pytest.mark.parametrize("field", ["userName", "email"])
async def test_concurrent_creates_of_one_user_make_one_and_409_the_rest(scim: Scim, field: str) -> None:
    """An identity provider retrying in parallel: every request passes the uniqueness check
    before any has written, and the database's unique index decides (RFC 7644 §3.3: 409
    ``uniqueness``, never a 500)."""
    import asyncio

    def body(n: int) -> dict[str, Any]:
        email = "carol@example.com" if field == "email" else f"carol{n}@example.com"
        user_name = "carol" if field == "userName" else f"carol-{n}"
        return {"schemas": [USER], "userName": user_name, "emails": [{"value": email}]}

    answers = await asyncio.gather(*(scim.call("POST", "/Users", body(n)) for n in range(6)))
    assert sorted(r.status_code for r in answers) == [201] + [409] * 5, [r.text for r in answers]
    for refused in (r for r in answers if r.status_code == 409):
        assert refused.json()["scimType"] == "uniqueness"
