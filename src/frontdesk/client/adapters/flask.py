"""Flask: protect views with a blocking :class:`ResourceServer`.

::

    rs = ResourceServer(issuer=..., resource=..., client_id=..., client_secret=...)

    @app.get("/bookings")
    @requires_token(rs, "read_bookings")
    def bookings():
        principal = flask.g.principal
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from frontdesk.client.adapters import _blocking
from frontdesk.client.resource_server import Challenge, Principal, ResourceServer


def challenge_response(exc: Challenge) -> Any:
    import flask

    response = flask.jsonify(exc.body())
    response.status_code = exc.status
    response.headers.update(exc.headers)
    return response


def _parts(args: tuple[Any, ...]) -> _blocking.RequestParts:
    import flask

    request = flask.request
    form = (
        list(request.form.items(multi=True))
        if request.mimetype == "application/x-www-form-urlencoded"
        else []
    )
    proofs = request.headers.getlist("DPoP")
    return _blocking.RequestParts(
        authorization=request.headers.get("Authorization"),
        query=list(request.args.items(multi=True)),
        form=form,
        dpop=",".join(proofs) if proofs else None,
        method=request.method,
        url=request.url,
    )


def _keep(args: tuple[Any, ...], principal: Principal) -> None:
    import flask

    flask.g.principal = principal


def requires_token(
    rs: ResourceServer, *scopes: str, space_param: str | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``flask.g.principal`` holds the principal, or the RFC 6750 challenge is answered."""
    return _blocking.requires_token(
        rs, scopes, space_param, parts=_parts, keep=_keep, respond=challenge_response
    )


__all__ = ["challenge_response", "requires_token"]
