"""RawRoute: hot endpoints served without FastAPI's request handling, still documented."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter, FastAPI, Request
from starlette.responses import PlainTextResponse, Response

from frontdesk.web.routing import RawRoute
from tests.support import Browser


async def plain(request: Request) -> Response:
    return PlainTextResponse(f"hello {request.query_params.get('name', '')}")


async def with_param(request: Request, name: str) -> Response:
    return PlainTextResponse(name)


def test_an_endpoint_with_parameters_is_refused() -> None:
    router = APIRouter()
    with pytest.raises(TypeError, match="takes only the request"):
        router.add_api_route("/x", with_param, methods=["GET"], route_class_override=RawRoute)


async def test_raw_route_serves_and_is_documented() -> None:
    app = FastAPI()
    app.router.add_api_route("/hello", plain, methods=["GET"], summary="Hi", route_class_override=RawRoute)
    async with Browser(app, host="test") as b:
        assert (await b.get("/hello", params={"name": "pat"})).text == "hello pat"
    assert app.openapi()["paths"]["/hello"]["get"]["summary"] == "Hi"


def test_the_hot_routes_are_raw_and_still_in_the_schema(app: Any) -> None:
    from frontdesk.web.routes.api import user
    from frontdesk.web.routes.oauth import authorize, token

    routes = [*user.router.routes, *token.router.routes, *authorize.router.routes]
    raw = {(r.path, m) for r in routes if isinstance(r, RawRoute) for m in r.methods}
    assert {("/api/user", "GET"), ("/oauth/access_token", "POST"), ("/oauth/authorize", "GET")} <= raw
    paths = app.openapi()["paths"]
    assert "UserOut" in str(paths["/api/user"]["get"]["responses"]["200"])
    assert "post" in paths["/oauth/access_token"]


async def test_the_fast_lane_serves_raw_routes_past_the_router_and_their_errors_too(
    app: Any, browser: Browser
) -> None:
    """Once the middleware stack is built, the hot routes answer even if the router knew
    nothing any more (they never reach it); their errors are rendered as on the router's way."""
    assert (await browser.get("/healthz")).status_code == 200  # builds the middleware stack
    app.router.routes.clear()
    missing = await browser.get("/api/user")
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer realm=")
    bad = await browser.post("/oauth/token", data={"grant_type": "password"})
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    # Everything else goes through the (now empty) router.
    assert (await browser.get("/healthz")).status_code == 404
