"""Starlette and FastAPI: protect endpoints with an :class:`AsyncResourceServer`.

FastAPI::

    rs = AsyncResourceServer(issuer=..., resource=..., client_id=..., client_secret=...)
    install(app)                                  # Challenge -> RFC 6750 answer

    @app.get("/bookings")
    async def bookings(principal: Principal = Depends(require(rs, "read_bookings"))): ...

Starlette::

    @requires_token(rs, "read_bookings")
    async def bookings(request):                  # request.state.principal
        ...
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from frontdesk.client.resource_server import AsyncResourceServer, Challenge, Principal

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

FORM_TYPE = "application/x-www-form-urlencoded"


async def authenticate(
    rs: AsyncResourceServer, request: Request, scopes: tuple[str, ...] = (), space: str | None = None
) -> Principal:
    """The request's principal (header, query or form token, RFC 6750 §2), or a Challenge."""
    form: list[tuple[str, str]] = []
    if request.method not in ("GET", "HEAD") and (request.headers.get("content-type") or "").startswith(
        FORM_TYPE
    ):
        form = [(k, v) for k, v in (await request.form()).multi_items() if isinstance(v, str)]
    proofs = request.headers.getlist("dpop")
    return await rs.authenticate_request(
        request.headers.get("authorization"),
        request.query_params.multi_items(),
        form,
        scopes=scopes,
        space=space,
        # RFC 9449 §7: the proof of a DPoP-bound token (several headers are refused).
        dpop=",".join(proofs) if proofs else None,
        method=request.method,
        url=str(request.url),
    )


def challenge_response(exc: Challenge) -> Response:
    from starlette.responses import JSONResponse

    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


def install(app: Any) -> None:
    """Answer every :class:`Challenge` an endpoint or dependency raises as RFC 6750 §3 says."""

    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Challenge)
        return challenge_response(exc)

    app.add_exception_handler(Challenge, handler)


def require(
    rs: AsyncResourceServer, *scopes: str, space_param: str | None = None
) -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency: the principal, holding ``scopes``; ``space_param`` names a path
    parameter holding the space's subdomain (a space token of another space is refused)."""

    from starlette.requests import Request as StarletteRequest

    async def dependency(request: Request) -> Principal:
        space = request.path_params.get(space_param) if space_param else None
        principal = await authenticate(rs, request, scopes, space)
        request.state.principal = principal
        return principal

    # FastAPI reads the annotation at runtime: the real class, imported only now (lazily).
    dependency.__annotations__ = {"request": StarletteRequest, "return": Principal}
    return dependency


def requires_token(
    rs: AsyncResourceServer, *scopes: str, space_param: str | None = None
) -> Callable[[Callable[[Request], Awaitable[Response]]], Callable[[Request], Awaitable[Response]]]:
    """A decorator for Starlette endpoints: ``request.state.principal`` is set, or the
    challenge is answered."""

    def decorate(
        endpoint: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(endpoint)
        async def wrapper(request: Request) -> Response:
            space = request.path_params.get(space_param) if space_param else None
            try:
                request.state.principal = await authenticate(rs, request, scopes, space)
            except Challenge as exc:
                return challenge_response(exc)
            return await endpoint(request)

        return wrapper

    return decorate


__all__ = ["authenticate", "challenge_response", "install", "require", "requires_token"]
