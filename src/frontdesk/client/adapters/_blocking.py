"""The decorator the blocking adapters share (:mod:`.flask`, :mod:`.django`): each says only
how to read its framework's request, where to keep the principal and how to answer."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from frontdesk.client.resource_server import Challenge, Principal, ResourceServer

# The request's Authorization header, query pairs and form pairs (RFC 6750 §2).
RequestParts = tuple[str | None, Iterable[tuple[str, str]], Iterable[tuple[str, str]]]
View = Callable[..., Any]


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
            authorization, query, form = parts(args)
            try:
                principal = rs.authenticate_request(authorization, query, form, scopes=scopes, space=space)
            except Challenge as exc:
                return respond(exc)
            keep(args, principal)
            return view(*args, **kwargs)

        return wrapper

    return decorate
