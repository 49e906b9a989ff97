"""``/openapi.json`` describes every endpoint a program calls, with its inputs, its success
answer and its errors, and is a valid OpenAPI document; ``/docs`` shows it with its
introduction once.

The endpoints are taken from the application's own routes (everything that is not a page for
people, as web/limits.py tells them apart), so a new route cannot go undocumented unnoticed.
Each documented success status is checked against what the server answers for a real
successful request.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from openapi_spec_validator import validate
from starlette.routing import BaseRoute

from frontdesk.oauth.scopes import ADMIN_SCOPES
from frontdesk.services import spaces
from frontdesk.web.limits import is_page
from tests.oauth_support import basic, make_user, register_app
from tests.support import PASSWORD, Browser

BODY_METHODS = {"post", "put", "patch"}
NOT_API = {"/openapi.json"}  # the document itself
OAUTH_ERROR_REF = "#/components/schemas/OAuthError"


def routes_of(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, set[str], bool]]:
    """(path, methods, include_in_schema) of every route, inside included routers too."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            context = getattr(route, "include_context", None)
            yield from routes_of(included.routes, prefix + str(getattr(context, "prefix", "")))
            continue
        methods = getattr(route, "methods", None)
        if methods:
            yield (
                prefix + str(getattr(route, "path", "")),
                set(methods),
                bool(getattr(route, "include_in_schema", False)),
            )


def api_routes(app: Any) -> list[tuple[str, str, bool]]:
    """(method, path, documented by its route) of every endpoint that is not a page."""
    return sorted(
        (method.lower(), path, listed)
        for path, methods, listed in routes_of(app.routes)
        if not is_page(path) and path not in NOT_API
        for method in methods
    )


async def document(browser: Browser) -> dict[str, Any]:
    response = await browser.get("/openapi.json")
    assert response.status_code == 200
    doc: dict[str, Any] = response.json()
    return doc


def operation(doc: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    op: dict[str, Any] = doc["paths"][path][method]
    return op


def schema_ref(response: dict[str, Any]) -> str | None:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    ref = schema.get("$ref")
    return ref if isinstance(ref, str) else None


async def test_the_document_is_valid_openapi(browser: Browser) -> None:
    validate(await document(browser))


async def test_every_endpoint_is_documented_or_refuses_the_method(app: Any, browser: Browser) -> None:
    """Every method of every non-page route is in the document, or answers 405 (the "use
    POST" answers of the protocol endpoints)."""
    doc = await document(browser)
    documented = {(m, p) for p, item in doc["paths"].items() for m in item}
    undocumented = []
    for method, path, _ in api_routes(app):
        if (method, path) in documented or method == "head":
            continue
        answer = await browser.http.request(method.upper(), path)
        if answer.status_code != 405:
            undocumented.append((method, path, answer.status_code))
    assert undocumented == []


async def test_every_operation_describes_its_inputs_and_errors(app: Any, browser: Browser) -> None:
    doc = await document(browser)
    problems: list[str] = []
    ops = {(m, p) for m, p, _ in api_routes(app)} | {("get", "/oauth/authorize")}
    for method, path in sorted(ops):
        if path not in doc["paths"] or method not in doc["paths"][path]:
            continue  # a 405 answer (checked above)
        op = operation(doc, method, path)
        responses = op.get("responses", {})
        where = f"{method.upper()} {path}"
        named = {p["name"] for p in op.get("parameters", []) if p.get("in") == "path"}
        for name in re.findall(r"{(\w+)}", path):
            if name not in named:
                problems.append(f"{where}: path parameter {name} undocumented")
        if method in BODY_METHODS:
            body = op.get("requestBody", {}).get("content", {})
            if not any(spec.get("schema", {}).get("properties") for spec in body.values()):
                problems.append(f"{where}: no request body with its fields")
            if "413" not in responses:
                problems.append(f"{where}: 413 (body too large) undocumented")
        successes = [s for s in responses if s[0] in "23"]
        if not successes:
            problems.append(f"{where}: no success answer")
        if path.startswith("/oauth/") and method == "post":
            if schema_ref(responses.get("400", {})) != OAUTH_ERROR_REF:
                problems.append(f"{where}: 400 without the RFC 6749 error schema")
            if path != "/oauth/register" and schema_ref(responses.get("401", {})) != OAUTH_ERROR_REF:
                problems.append(f"{where}: 401 without the RFC 6749 error schema")
        bearer = {"bearer": []} in op.get("security", [])
        if bearer and schema_ref(responses.get("401", {})) is None:
            problems.append(f"{where}: 401 (bad token) undocumented")
        if "422" in responses and schema_ref(responses["422"]) != "#/components/schemas/ErrorOut":
            problems.append(f"{where}: FastAPI's 422, which the server never answers")
    assert problems == []


# ---- documented success statuses equal the server's ---------------------------------------


@pytest.fixture
async def calls(state: Any, db: Any, new_browser: Any) -> dict[tuple[str, str], Any]:
    """One successful request per operation: (method, path) → an awaitable factory."""
    owner = await make_user(state, db, "owner@example.com", "Olivia Owner")
    await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=owner)
    await db.commit()
    app = await register_app(
        state, db, owner, scopes="openid read_user read_memberships navigation write_subscriptions"
    )
    main: Browser = new_browser()
    at_space: Browser = new_browser("co-up.localhost:8000")
    client = basic(app.client_id, app.client_secret)

    async def token(path: str = "/oauth/access_token") -> Any:
        return await main.post(
            path,
            data={
                "grant_type": "password",
                "username": "owner@example.com",
                "password": PASSWORD,
                "scope": "openid read_user read_memberships navigation write_subscriptions",
            },
            headers=client,
        )

    async def fresh() -> str:
        response = await token()
        assert response.status_code == 200, response.text
        raw: str = response.json()["access_token"]
        return raw

    async def bearer() -> dict[str, str]:
        return {"authorization": f"Bearer {await fresh()}"}

    async def link() -> str:
        made = await at_space.post(
            "/api/navigation_links",
            json={"section": "members", "label": "L", "iframe_url": "https://app.example/x"},
            headers=await bearer(),
        )
        assert made.status_code == 201, made.text
        ident: str = made.json()["id"]
        return ident

    async def subscription() -> str:
        made = await at_space.post(
            "/api/subscriptions",
            json={"event": "membership.created", "callback_url": "https://hooks.example/in"},
            headers=await bearer(),
        )
        assert made.status_code == 201, made.text
        ident: str = made.json()["id"]
        return ident

    async def membership() -> str:
        listed = await at_space.get("/api/memberships", headers=await bearer())
        ident: str = listed.json()[0]["id"]
        return ident

    async def member() -> str:
        listed = await at_space.get("/api/memberships", headers=await bearer())
        ident: str = listed.json()[0]["user_id"]
        return ident

    async def authorize() -> Any:
        query = {"response_type": "code", "client_id": app.client_id, "redirect_uri": app.redirect_uri}
        return await main.get("/oauth/authorize", params=query)

    # The admin API: an administrative app holding every admin scope (client_credentials).
    operator = await register_app(state, db, owner, name="Ops", admin_scopes=" ".join(ADMIN_SCOPES))
    ops_client = basic(operator.client_id, operator.client_secret)
    made: list[int] = [0]

    async def adm() -> dict[str, str]:
        response = await main.post(
            "/oauth/access_token",
            data={"grant_type": "client_credentials", "scope": " ".join(ADMIN_SCOPES)},
            headers=ops_client,
        )
        assert response.status_code == 200, response.text
        return {"authorization": f"Bearer {response.json()['access_token']}"}

    def unique(prefix: str) -> str:
        made[0] += 1
        return f"{prefix}{made[0]}"

    async def new_user() -> str:
        response = await main.post(
            "/api/admin/users", json={"email": f"{unique('u')}@example.com"}, headers=await adm()
        )
        ident: str = response.json()["id"]
        return ident

    async def new_space() -> str:
        response = await main.post(
            "/api/admin/spaces",
            json={"subdomain": unique("space"), "name": "S", "owner_id": owner.id},
            headers=await adm(),
        )
        ident: str = response.json()["id"]
        return ident

    async def new_membership() -> str:
        space_id, user_id = await new_space(), await new_user()
        response = await main.post(
            f"/api/admin/spaces/{space_id}/memberships", json={"user_id": user_id}, headers=await adm()
        )
        return f"/api/admin/spaces/{space_id}/memberships/{response.json()['id']}"

    async def new_invitation() -> str:
        space_id = await new_space()
        response = await main.post(
            f"/api/admin/spaces/{space_id}/invitations",
            json={"email": f"{unique('i')}@example.com"},
            headers=await adm(),
        )
        return f"/api/admin/spaces/{space_id}/invitations/{response.json()['id']}"

    async def new_app() -> str:
        response = await main.post(
            "/api/admin/apps",
            json={
                "owner_id": owner.id,
                "name": "A",
                "redirect_uris": ["https://app.example/cb"],
                "scopes": "read_user",
            },
            headers=await adm(),
        )
        ident: str = response.json()["client_id"]
        return ident

    async def new_endpoint() -> str:
        response = await main.post(
            "/api/admin/webhooks", json={"url": "https://hooks.example/ops"}, headers=await adm()
        )
        ident: str = response.json()["id"]
        return ident

    async def new_delivery() -> int:
        endpoint = await new_endpoint()
        await new_user()  # user.created, into the new endpoint's outbox
        response = await main.get(f"/api/admin/webhooks/{endpoint}/deliveries", headers=await adm())
        number: int = response.json()["deliveries"][0]["delivery"]
        return number

    async def admin_call(method: str, path: str, **kwargs: Any) -> Any:
        return await main.http.request(method, path, headers=await adm(), **kwargs)

    admin_calls = {
        ("get", "/api/admin/users"): lambda: admin_call("GET", "/api/admin/users"),
        ("post", "/api/admin/users"): lambda: admin_call(
            "POST", "/api/admin/users", json={"email": f"{unique('n')}@example.com"}
        ),
        ("get", "/api/admin/users/{user_id}"): lambda: _with(
            new_user, lambda u: admin_call("GET", f"/api/admin/users/{u}")
        ),
        ("patch", "/api/admin/users/{user_id}"): lambda: _with(
            new_user, lambda u: admin_call("PATCH", f"/api/admin/users/{u}", json={"name": "New"})
        ),
        ("delete", "/api/admin/users/{user_id}"): lambda: _with(
            new_user, lambda u: admin_call("DELETE", f"/api/admin/users/{u}")
        ),
        ("get", "/api/admin/spaces"): lambda: admin_call("GET", "/api/admin/spaces"),
        ("post", "/api/admin/spaces"): lambda: admin_call(
            "POST", "/api/admin/spaces", json={"subdomain": unique("new"), "name": "N", "owner_id": owner.id}
        ),
        ("get", "/api/admin/spaces/{space_id}"): lambda: _with(
            new_space, lambda s: admin_call("GET", f"/api/admin/spaces/{s}")
        ),
        ("patch", "/api/admin/spaces/{space_id}"): lambda: _with(
            new_space, lambda s: admin_call("PATCH", f"/api/admin/spaces/{s}", json={"name": "R"})
        ),
        ("delete", "/api/admin/spaces/{space_id}"): lambda: _with(
            new_space, lambda s: admin_call("DELETE", f"/api/admin/spaces/{s}")
        ),
        ("post", "/api/admin/spaces/{space_id}/domain/check"): lambda: _with(
            new_space, lambda s: admin_call("POST", f"/api/admin/spaces/{s}/domain/check", json={})
        ),
        ("get", "/api/admin/spaces/{space_id}/memberships"): lambda: _with(
            new_space, lambda s: admin_call("GET", f"/api/admin/spaces/{s}/memberships")
        ),
        ("post", "/api/admin/spaces/{space_id}/memberships"): lambda: _with(
            new_space,
            lambda s: _with(
                new_user,
                lambda u: admin_call("POST", f"/api/admin/spaces/{s}/memberships", json={"user_id": u}),
            ),
        ),
        ("get", "/api/admin/spaces/{space_id}/memberships/{membership_id}"): lambda: _with(
            new_membership, lambda m: admin_call("GET", m)
        ),
        ("patch", "/api/admin/spaces/{space_id}/memberships/{membership_id}"): lambda: _with(
            new_membership, lambda m: admin_call("PATCH", m, json={"role": "admin"})
        ),
        ("delete", "/api/admin/spaces/{space_id}/memberships/{membership_id}"): lambda: _with(
            new_membership, lambda m: admin_call("DELETE", m)
        ),
        ("post", "/api/admin/spaces/{space_id}/memberships/{membership_id}/confirm"): lambda: _with(
            new_membership, lambda m: admin_call("POST", f"{m}/confirm", json={})
        ),
        ("post", "/api/admin/spaces/{space_id}/memberships/{membership_id}/cancel"): lambda: _with(
            new_membership, lambda m: admin_call("POST", f"{m}/cancel", json={"canceled_to": "2030-01-31"})
        ),
        ("get", "/api/admin/spaces/{space_id}/invitations"): lambda: _with(
            new_space, lambda s: admin_call("GET", f"/api/admin/spaces/{s}/invitations")
        ),
        ("post", "/api/admin/spaces/{space_id}/invitations"): lambda: _with(
            new_space,
            lambda s: admin_call(
                "POST", f"/api/admin/spaces/{s}/invitations", json={"email": f"{unique('j')}@example.com"}
            ),
        ),
        ("delete", "/api/admin/spaces/{space_id}/invitations/{invitation_id}"): lambda: _with(
            new_invitation, lambda i: admin_call("DELETE", i)
        ),
        ("get", "/api/admin/apps"): lambda: admin_call("GET", "/api/admin/apps"),
        ("post", "/api/admin/apps"): lambda: admin_call(
            "POST",
            "/api/admin/apps",
            json={
                "owner_id": owner.id,
                "name": "B",
                "redirect_uris": ["https://b.example/cb"],
                "scopes": "read_user",
            },
        ),
        ("get", "/api/admin/apps/{client_id}"): lambda: _with(
            new_app, lambda c: admin_call("GET", f"/api/admin/apps/{c}")
        ),
        ("patch", "/api/admin/apps/{client_id}"): lambda: _with(
            new_app, lambda c: admin_call("PATCH", f"/api/admin/apps/{c}", json={"name": "C"})
        ),
        ("delete", "/api/admin/apps/{client_id}"): lambda: _with(
            new_app, lambda c: admin_call("DELETE", f"/api/admin/apps/{c}")
        ),
        ("post", "/api/admin/apps/{client_id}/secret"): lambda: _with(
            new_app, lambda c: admin_call("POST", f"/api/admin/apps/{c}/secret", json={"overlap_seconds": 60})
        ),
        ("get", "/api/admin/apps/{client_id}/tokens"): lambda: _with(
            new_app, lambda c: admin_call("GET", f"/api/admin/apps/{c}/tokens")
        ),
        ("delete", "/api/admin/apps/{client_id}/tokens"): lambda: _with(
            new_app, lambda c: admin_call("DELETE", f"/api/admin/apps/{c}/tokens")
        ),
        ("get", "/api/admin/tokens"): lambda: admin_call("GET", "/api/admin/tokens"),
        ("post", "/api/admin/tokens/revoke"): lambda: _with(
            new_app, lambda c: admin_call("POST", "/api/admin/tokens/revoke", json={"client_id": c})
        ),
        ("get", "/api/admin/audit"): lambda: admin_call("GET", "/api/admin/audit", params={"kind": "admin"}),
        ("get", "/api/admin/webhooks"): lambda: admin_call("GET", "/api/admin/webhooks"),
        ("post", "/api/admin/webhooks"): lambda: admin_call(
            "POST", "/api/admin/webhooks", json={"url": "https://hooks.example/ops"}
        ),
        ("delete", "/api/admin/webhooks/{endpoint_id}"): lambda: _with(
            new_endpoint, lambda e: admin_call("DELETE", f"/api/admin/webhooks/{e}")
        ),
        ("get", "/api/admin/webhooks/{endpoint_id}/deliveries"): lambda: _with(
            new_endpoint, lambda e: admin_call("GET", f"/api/admin/webhooks/{e}/deliveries")
        ),
        ("post", "/api/admin/webhooks/deliveries/resend"): lambda: _with(
            new_delivery,
            lambda d: admin_call("POST", "/api/admin/webhooks/deliveries/resend", json={"delivery": d}),
        ),
    }

    return {
        **admin_calls,
        ("post", "/oauth/access_token"): lambda: token(),
        ("post", "/oauth/token"): lambda: token("/oauth/token"),
        ("post", "/oauth/revoke"): lambda: _with(
            fresh, lambda t: main.post("/oauth/revoke", data={"token": t}, headers=client)
        ),
        ("post", "/oauth/introspect"): lambda: _with(
            fresh, lambda t: main.post("/oauth/introspect", data={"token": t}, headers=client)
        ),
        ("post", "/oauth/register"): lambda: main.post(
            "/oauth/register", json={"redirect_uris": ["https://app.example/cb"], "client_name": "Reg"}
        ),
        ("post", "/oauth/par"): lambda: main.post(
            "/oauth/par",
            data={"response_type": "code", "redirect_uri": app.redirect_uri, "scope": "read_user"},
            headers=client,
        ),
        ("post", "/oauth/device_authorization"): lambda: main.post(
            "/oauth/device_authorization", data={"scope": "read_user"}, headers=client
        ),
        ("get", "/oauth/authorize"): authorize,
        ("get", "/oauth/logout"): lambda: main.get("/oauth/logout"),
        ("get", "/.well-known/oauth-authorization-server"): lambda: main.get(
            "/.well-known/oauth-authorization-server"
        ),
        ("head", "/.well-known/oauth-authorization-server"): lambda: main.http.head(
            "/.well-known/oauth-authorization-server"
        ),
        ("get", "/.well-known/openid-configuration"): lambda: main.get("/.well-known/openid-configuration"),
        ("head", "/.well-known/openid-configuration"): lambda: main.http.head(
            "/.well-known/openid-configuration"
        ),
        ("get", "/jwks.json"): lambda: main.get("/jwks.json"),
        ("get", "/.well-known/oauth-protected-resource"): lambda: main.get(
            "/.well-known/oauth-protected-resource"
        ),
        ("head", "/.well-known/oauth-protected-resource"): lambda: main.http.head(
            "/.well-known/oauth-protected-resource"
        ),
        ("get", "/healthz"): lambda: main.get("/healthz"),
        ("get", "/readyz"): lambda: main.get("/readyz"),
        ("get", "/healthz/domain"): lambda: main.get(
            "/healthz/domain", params={"domain": "co-up.localhost:8000"}
        ),
        ("get", "/api/user"): lambda: _with(bearer, lambda h: main.get("/api/user", headers=h)),
        ("get", "/api/userinfo"): lambda: _with(bearer, lambda h: main.get("/api/userinfo", headers=h)),
        ("post", "/api/userinfo"): lambda: _with(
            fresh, lambda t: main.post("/api/userinfo", data={"access_token": t})
        ),
        ("get", "/api/access_tokens/{token}"): lambda: _with(
            fresh, lambda t: main.get(f"/api/access_tokens/{t}")
        ),
        ("delete", "/api/access_tokens/{token}"): lambda: _with(
            fresh, lambda t: main.delete(f"/api/access_tokens/{t}")
        ),
        ("post", "/api/access_tokens/{token}/space"): lambda: _with(
            fresh, lambda t: main.post(f"/api/access_tokens/{t}/space", json={"space_id": "co-up"})
        ),
        ("get", "/api/spaces/{subdomain}"): lambda: main.get("/api/spaces/co-up"),
        ("get", "/api/spaces/{subdomain}/memberships"): lambda: _with(
            bearer, lambda h: main.get("/api/spaces/co-up/memberships", headers=h)
        ),
        ("get", "/api/memberships"): lambda: _with(
            bearer, lambda h: at_space.get("/api/memberships", headers=h)
        ),
        ("get", "/api/memberships/{membership_id}"): lambda: _with(
            membership, lambda m: _with(bearer, lambda h: at_space.get(f"/api/memberships/{m}", headers=h))
        ),
        ("get", "/api/navigation_links"): lambda: _with(
            bearer, lambda h: at_space.get("/api/navigation_links", headers=h)
        ),
        ("post", "/api/navigation_links"): lambda: _with(
            bearer,
            lambda h: at_space.post(
                "/api/navigation_links",
                json={"section": "members", "label": "L", "iframe_url": "https://app.example/x"},
                headers=h,
            ),
        ),
        ("get", "/api/navigation_links/{link_id}"): lambda: _with(
            link, lambda i: _with(bearer, lambda h: at_space.get(f"/api/navigation_links/{i}", headers=h))
        ),
        ("delete", "/api/navigation_links/{link_id}"): lambda: _with(
            link, lambda i: _with(bearer, lambda h: at_space.delete(f"/api/navigation_links/{i}", headers=h))
        ),
        ("get", "/api/users/{user_id}"): lambda: _with(
            member, lambda u: _with(bearer, lambda h: at_space.get(f"/api/users/{u}", headers=h))
        ),
        ("get", "/api/subscriptions"): lambda: _with(
            bearer, lambda h: at_space.get("/api/subscriptions", headers=h)
        ),
        ("post", "/api/subscriptions"): lambda: _with(
            bearer,
            lambda h: at_space.post(
                "/api/subscriptions",
                json={"event": "created_membership", "callback_url": "https://hooks.example/cobot"},
                headers=h,
            ),
        ),
        ("delete", "/api/subscriptions/{subscription_id}"): lambda: _with(
            subscription,
            lambda i: _with(bearer, lambda h: at_space.delete(f"/api/subscriptions/{i}", headers=h)),
        ),
    }


async def _with(first: Any, then: Any) -> Any:
    return await then(await first())


async def test_documented_success_status_is_what_the_server_answers(
    calls: dict[tuple[str, str], Any], browser: Browser
) -> None:
    """A successful request of every documented operation gets a documented 2xx or 3xx, and an
    operation documents one 2xx at most (RFC 7591's 201 for registration, not FastAPI's 200)."""
    doc = await document(browser)
    wrong = []
    for path, item in sorted(doc["paths"].items()):
        for method, op in item.items():
            call = calls.get((method, path))
            assert call is not None, f"no successful request for {method.upper()} {path} in this test"
            answer = await call()
            status = str(answer.status_code)
            documented_2xx = [s for s in op["responses"] if s.startswith("2")]
            if status[0] not in "23" or status not in op["responses"] or len(documented_2xx) > 1:
                wrong.append((method.upper(), path, sorted(op["responses"]), status, answer.text[:120]))
    assert wrong == []


# ---- /docs -----------------------------------------------------------------------------------


async def test_docs_shows_the_introduction_once_as_html(browser: Browser) -> None:
    doc = await document(browser)
    page = (await browser.get("/docs")).text
    main = page.split("<main", 1)[-1]
    text = html.unescape(re.sub(r"<[^>]+>", "", main))
    first_sentence = doc["info"]["description"].split(". ", 1)[0]
    assert text.count(re.sub(r"[`*]", "", first_sentence)) == 1
    assert "`" not in text  # Markdown code spans are rendered, not shown raw
    assert "<code>Authorization: Bearer &lt;token&gt;</code>" in main


async def test_docs_lists_the_protocol_endpoints_with_their_bodies(browser: Browser) -> None:
    page = html.unescape((await browser.get("/docs")).text)
    for path in (
        "/oauth/access_token",
        "/oauth/token",
        "/oauth/revoke",
        "/oauth/introspect",
        "/oauth/register",
        "/oauth/par",
    ):
        assert f"<code>{path}</code>" in page, path
    for field in ("grant_type", "code_verifier", "token_type_hint", "redirect_uris", "space_id"):
        assert f"<code>{field}</code>" in page, field
    assert json.dumps("invalid_client")[1:-1] in page
