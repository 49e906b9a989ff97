"""Django: protect views with a blocking :class:`ResourceServer`.

::

    rs = ResourceServer(issuer=..., resource=..., client_id=..., client_secret=...)

    @requires_token(rs, "read_bookings")
    def bookings(request):
        principal = request.principal
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from frontdesk.client.resource_server import Challenge, ResourceServer


def challenge_response(exc: Challenge) -> Any:
    from django.http import JsonResponse

    response = JsonResponse(exc.body(), status=exc.status)
    for name, value in exc.headers.items():
        response[name] = value
    return response


def requires_token(
    rs: ResourceServer, *scopes: str, space_param: str | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``request.principal`` holds the principal, or the RFC 6750 challenge is answered."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(request: Any, *args: Any, **kwargs: Any) -> Any:
            space = kwargs.get(space_param) if space_param else None
            form: list[tuple[str, str]] = []
            if request.content_type == "application/x-www-form-urlencoded":
                form = [(k, v) for k in request.POST for v in request.POST.getlist(k)]
            query = [(k, v) for k in request.GET for v in request.GET.getlist(k)]
            try:
                request.principal = rs.authenticate_request(
                    request.headers.get("Authorization"), query, form, scopes=scopes, space=space
                )
            except Challenge as exc:
                return challenge_response(exc)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


__all__ = ["challenge_response", "requires_token"]
