"""Route classes: every route runs in a unit of work (:class:`UnitOfWorkRoute`); the few
hottest endpoints skip FastAPI's request handling (:class:`RawRoute`) and open their own."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, cast

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from frontdesk.web.adapter import run_in_unit_of_work

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
