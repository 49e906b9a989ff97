"""The decorator the blocking adapters share (:mod:`.flask`, :mod:`.django`): each says only
how to read its framework's request, where to keep the principal and how to answer."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from frontdesk.client.resource_server import Challenge, Principal, ResourceServer

View = Callable[..., Any]


@dataclass(frozen=True)
class RequestParts:
    """What authenticating a request reads: the ``Authorization`` header, the query and form
    pairs (RFC 6750 §2), and for a DPoP-bound token the ``DPoP`` header (several joined by
    commas, which no proof holds, so that they are refused), the method and the URL the client
    called (RFC 9449 §7)."""

    authorization: str | None
    query: Iterable[tuple[str, str]]
    form: Iterable[tuple[str, str]]
    dpop: str | None
    method: str
    url: str


def requires_token(
    rs: ResourceServer,
    scopes: tuple[str, ...],
    space_param: str | None,
    *,
    parts: Callable[[tuple[Any, ...]], RequestParts],
    keep: Callable[[tuple[Any, ...], Principal], None],
    respond: Callable[[Challenge], Any],
) -> Callable[[View], View]:
    """A view decorator: the principal of the request (``parts`` reads it from the view's
    positional arguments) is handed to ``keep``, or ``respond`` answers the challenge."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            space = kwargs.get(space_param) if space_param else None
            request = parts(args)
            try:
                principal = rs.authenticate_request(
                    request.authorization,
                    request.query,
                    request.form,
                    scopes=scopes,
                    space=space,
                    dpop=request.dpop,
                    method=request.method,
                    url=request.url,
                )
            except Challenge as exc:
                return respond(exc)
            keep(args, principal)
            return view(*args, **kwargs)

        return wrapper

    return decorate
