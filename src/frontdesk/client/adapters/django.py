"""Django: protect views with a blocking :class:`ResourceServer`.

::

    rs = ResourceServer(issuer=..., resource=..., client_id=..., client_secret=...)

    @requires_token(rs, "read_bookings")
    def bookings(request):
        principal = request.principal
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from frontdesk.client.adapters import _blocking
from frontdesk.client.resource_server import Challenge, Principal, ResourceServer


def challenge_response(exc: Challenge) -> Any:
    from django.http import JsonResponse

    response = JsonResponse(exc.body(), status=exc.status)
    for name, value in exc.headers.items():
        response[name] = value
    return response


def _parts(args: tuple[Any, ...]) -> _blocking.RequestParts:
    request = args[0]
    form: list[tuple[str, str]] = []
    if request.content_type == "application/x-www-form-urlencoded":
        form = [(k, v) for k in request.POST for v in request.POST.getlist(k)]
    query = [(k, v) for k in request.GET for v in request.GET.getlist(k)]
    # A WSGI server joins repeated DPoP headers with commas: refused as several proofs.
    return _blocking.RequestParts(
        authorization=request.headers.get("Authorization"),
        query=query,
        form=form,
        dpop=request.headers.get("DPoP"),
        method=request.method,
        url=request.build_absolute_uri(),
    )


def _keep(args: tuple[Any, ...], principal: Principal) -> None:
    args[0].principal = principal


def requires_token(
    rs: ResourceServer, *scopes: str, space_param: str | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``request.principal`` holds the principal, or the RFC 6750 challenge is answered."""
    return _blocking.requires_token(
        rs, scopes, space_param, parts=_parts, keep=_keep, respond=challenge_response
    )


__all__ = ["challenge_response", "requires_token"]
