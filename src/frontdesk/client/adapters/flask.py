"""Flask: protect views with a blocking :class:`ResourceServer`.

::

    rs = ResourceServer(issuer=..., resource=..., client_id=..., client_secret=...)

    @app.get("/bookings")
    @requires_token(rs, "read_bookings")
    def bookings():
        principal = flask.g.principal
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from frontdesk.client.resource_server import Challenge, ResourceServer


def challenge_response(exc: Challenge) -> Any:
    import flask

    response = flask.jsonify(exc.body())
    response.status_code = exc.status
    response.headers.update(exc.headers)
    return response


def requires_token(
    rs: ResourceServer, *scopes: str, space_param: str | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``flask.g.principal`` holds the principal, or the RFC 6750 challenge is answered."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            import flask

            request = flask.request
            space = kwargs.get(space_param) if space_param else None
            form = (
                list(request.form.items(multi=True))
                if request.mimetype == "application/x-www-form-urlencoded"
                else []
            )
            try:
                flask.g.principal = rs.authenticate_request(
                    request.headers.get("Authorization"),
                    list(request.args.items(multi=True)),
                    form,
                    scopes=scopes,
                    space=space,
                )
            except Challenge as exc:
                return challenge_response(exc)
            return view(*args, **kwargs)

        return wrapper

    return decorate


__all__ = ["challenge_response", "requires_token"]
