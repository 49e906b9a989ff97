"""``/docs``: the API reference rendered on the server from ``/openapi.json``, with no
JavaScript and nothing loaded from another origin."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from frontdesk.web.routes.pages.api_docs import build
from tests.support import Browser

MAIN_PATHS = [
    "/oauth/access_token",
    "/oauth/revoke",
    "/oauth/introspect",
    "/oauth/register",
    "/.well-known/oauth-authorization-server",
    "/.well-known/openid-configuration",
    "/jwks.json",
    "/api/user",
    "/api/userinfo",
    "/api/access_tokens/{token}",
    "/api/access_tokens/{token}/space",
    "/api/spaces/{subdomain}",
    "/api/spaces/{subdomain}/memberships",
    "/api/memberships",
    "/api/navigation_links",
    "/api/navigation_links/{link_id}",
]
URL_ATTRIBUTE = re.compile(r"""\b(?:src|href|action|srcset|poster|data)\s*=\s*["']?([^"'\s>]*)""", re.I)


async def openapi(browser: Browser) -> dict[str, Any]:
    response = await browser.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    doc = json.loads(response.text)
    assert isinstance(doc, dict)
    return doc


async def test_openapi_describes_the_json_api(browser: Browser) -> None:
    doc = await openapi(browser)
    assert doc["openapi"].startswith("3.")
    assert doc["info"]["title"] == "Frontdesk"
    missing = [path for path in MAIN_PATHS if path not in doc["paths"]]
    assert not missing
    # Pages for people are not part of the API description.
    assert "/docs" not in doc["paths"]
    assert "/login" not in doc["paths"]


async def test_docs_renders_every_operation(browser: Browser) -> None:
    doc = await openapi(browser)
    response = await browser.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = html.unescape(response.text)
    for path, item in doc["paths"].items():
        assert f"<code>{path}</code>" in page, path
        for method, op in item.items():
            assert method.upper() in page, (method, path)
            if op.get("summary"):
                assert op["summary"] in page, (method, path)
    for name in doc["components"]["schemas"]:
        assert f'id="schema-{name.lower()}"' in page.lower(), name
    # Fields of a response schema and of an inline request body schema are listed.
    assert "<code>admin_of</code>" in page
    assert "<code>iframe_url</code>" in page
    assert 'href="#schema-userout"' in page.lower()
    assert 'href="/openapi.json"' in page


async def test_docs_loads_nothing_from_elsewhere(browser: Browser) -> None:
    response = await browser.get("/docs")
    text = response.text
    urls = URL_ATTRIBUTE.findall(text)
    assert urls, "the page links to its stylesheet at least"
    external = [u for u in urls if not (u.startswith(("/", "#")) and not u.startswith("//"))]
    assert not external
    assert "<script" not in text.lower()
    assert " style=" not in text.lower()  # the CSP forbids inline styles
    assert 'href="/static/frontdesk.css"' in text


async def test_docs_carries_the_security_headers(browser: Browser) -> None:
    response = await browser.get("/docs")
    headers = response.headers
    csp = headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "frame-ancestors 'self'" in csp
    assert headers["x-frame-options"] == "SAMEORIGIN"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert "access-control-allow-origin" not in headers


async def test_docs_on_an_unknown_host_is_404(new_browser: Any) -> None:
    response = await new_browser("nowhere.example.test:8000").get("/docs")
    assert response.status_code == 404


def test_build_reduces_schemas() -> None:
    read = {"summary": "A thing", "tags": ["things"], "responses": {"200": {"description": "ok"}}}
    tags = {"type": "array", "items": {"$ref": "#/components/schemas/Tag"}}
    doc = {
        "info": {"title": "T", "version": "1"},
        "paths": {
            "/things/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "get": read,
                "head": dict(read),
                "post": {
                    "summary": "Change it",
                    "security": [{"bearer": ["write_things"]}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["name"],
                                    "properties": {
                                        "name": {"type": "string", "description": "Its name"},
                                        "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                                        "tags": tags,
                                        "kind": {"type": "string", "enum": ["a", "b"], "default": "a"},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {"204": {"description": "done"}, "400": {"description": "bad"}},
                },
            }
        },
        "components": {"schemas": {"Tag": {"type": "object", "properties": {"x": {"type": "integer"}}}}},
    }
    view = build(doc)
    assert [t.name for t in view.tags] == ["things", "other"]
    shown = view.tags[0].operations[0]
    assert shown.methods == ("GET", "HEAD")  # identical operations are shown once
    assert [p.name for p in shown.parameters] == ["id"]  # path-level parameters apply
    change = view.tags[1].operations[0]
    assert change.scopes == ("write_things",)
    assert change.request_required
    body = change.request_bodies[0].type
    assert body is not None and body.kind == "object"
    fields = {f.name: f for f in body.fields}
    assert fields["name"].required and fields["name"].description == "Its name"
    assert fields["note"].type.kind == "scalar" and fields["note"].type.nullable
    assert fields["tags"].type.kind == "array" and fields["tags"].type.items is not None
    assert fields["tags"].type.items.name == "Tag"
    assert fields["kind"].type.enum == ('"a"', '"b"') and fields["kind"].default == '"a"'
    assert [r.status for r in change.responses] == ["204", "400"]
    assert [s.name for s in view.schemas] == ["Tag"]
