"""Route classes: every route runs in a unit of work (:class:`UnitOfWorkRoute`); the few
hottest endpoints skip FastAPI's request handling (:class:`RawRoute`) and open their own."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, cast

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from frontdesk.web.adapter import method_not_allowed, run_in_unit_of_work

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class UnitOfWorkRoute(APIRoute):
    """A route whose request is one unit of work: committed when the handler returns,
    rolled back when it raises (the exception handlers then answer)."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            return await run_in_unit_of_work(request, handler)

        return run


def router(**kwargs: Any) -> APIRouter:
    """An :class:`APIRouter` whose routes run in a unit of work."""
    return APIRouter(route_class=UnitOfWorkRoute, **kwargs)


def post_only(
    router: APIRouter, path: str, endpoint: Handler, *, summary: str, documented: bool = True
) -> None:
    """A form-posting protocol endpoint (a :class:`RawRoute`) and 405 ``invalid_request``
    with ``Allow: POST`` for every other method (RFC 6749 §3.2, RFC 7009 §2.1, RFC 7662 §2.1)."""

    async def other_methods(request: Request) -> Response:
        return method_not_allowed(f"use POST for {path}")

    router.add_api_route(
        path,
        endpoint,
        methods=["POST"],
        summary=summary,
        tags=["oauth"],
        include_in_schema=documented,
        route_class_override=RawRoute,
    )
    router.add_api_route(
        path, other_methods, methods=["GET", "PUT", "DELETE", "PATCH"], include_in_schema=False
    )


class RawRoute(APIRoute):
    """Documented in the OpenAPI schema like any route, served like a plain Starlette endpoint.

    FastAPI's request handler solves dependencies, parses query parameters and validates the
    response model on every request; for ``/api/user``, the token endpoint and the
    authorization endpoint that costs more than their own work. Their endpoints take only the
    request and return a ready response, so this route calls them directly.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        d = self.dependant
        params = (d.path_params, d.query_params, d.header_params, d.cookie_params, d.body_params)
        if any(params) or d.dependencies:
            raise TypeError(f"{self.name}: a RawRoute endpoint takes only the request")

    def get_route_handler(self) -> Handler:
        return cast(Handler, self.endpoint)


class FastLane:
    """ASGI middleware, innermost of the application's own: a request for one of the
    :class:`RawRoute` endpoints (method and exact path) goes straight to its endpoint,
    skipping the router's matching and FastAPI's per-request layers. The route stays
    registered and documented like any other; everything else goes on to the router.

    Errors the endpoint raises are answered by the application's exception handlers, as on
    the router's way (``handlers`` is the app's exception handler table)."""

    def __init__(self, app: ASGIApp, *, routes: list[BaseRoute], handlers: dict[Any, Any]) -> None:
        self.app = app
        self.handlers = handlers
        self.lane: dict[tuple[str, str], Handler] = {}
        # The matched route goes into the scope, as the router puts it (the access log, the
        # tracing span and the metrics name requests by its template: web/request_id.py).
        self.routes: dict[tuple[str, str], RawRoute] = {}
        for path, route in _raw_routes(routes, ""):
            for method in route.methods or ():
                self.lane[(method, path)] = route.get_route_handler()
                self.routes[(method, path)] = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = (
            self.lane.get((scope.get("method", ""), scope.get("path", "")))
            if scope["type"] == "http"
            else None
        )
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = self.routes[(scope["method"], scope["path"])]
        request = Request(scope, receive, send)
        try:
            response = await endpoint(request)
        except Exception as exc:
            handler = _handler_for(self.handlers, exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)


def _raw_routes(routes: list[BaseRoute], prefix: str) -> list[tuple[str, RawRoute]]:
    """Every RawRoute with its full path, also inside included routers (FastAPI keeps an
    included router as one route that holds the router and its prefix)."""
    found: list[tuple[str, RawRoute]] = []
    for route in routes:
        if isinstance(route, RawRoute):
            found.append((prefix + route.path, route))
        included = getattr(route, "original_router", None)
        if included is not None:
            context = getattr(route, "include_context", None)
            found += _raw_routes(included.routes, prefix + str(getattr(context, "prefix", "")))
    return found


def _handler_for(handlers: dict[Any, Any], exc: Exception) -> Any:
    for cls in type(exc).__mro__:
        if cls in handlers:
            return handlers[cls]
    return None


def raw_route_paths(routes: list[BaseRoute]) -> list[str]:
    """The exact paths :class:`FastLane` answers (for web/metrics.py's route labels)."""
    return [path for path, _ in _raw_routes(routes, "")]
