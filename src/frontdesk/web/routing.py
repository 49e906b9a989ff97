"""A FastAPI route class for the few hottest endpoints."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, cast

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


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
