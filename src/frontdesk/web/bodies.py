"""JSON request bodies: one reader for every endpoint that takes one.

The size is capped before a handler runs (:mod:`frontdesk.web.limits`, 413); the document is
parsed by :func:`frontdesk.inputs.load_json` (nesting at most 32 levels, no NUL characters or
lone surrogates in any string). What cannot be read is a 400: ``invalid_request`` on the API
(:func:`api_json`), the endpoint's own error on protocol endpoints (``/oauth/register`` answers
RFC 7591's ``invalid_client_metadata``).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from frontdesk.inputs import BadInput, load_json
from frontdesk.web.adapter import read_form
from frontdesk.web.errors import ApiError

JSON_TYPE = "application/json"


def media_type(request: Request) -> str:
    """The request's media type, lower-case, without parameters."""
    return (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()


async def read_json(request: Request, *, empty: Any = None) -> Any:
    """The parsed body (``empty`` when there is none); :class:`BadInput` if it cannot be read."""
    raw = await request.body()
    if not raw.strip():
        if empty is None:
            raise BadInput("the body is empty")
        return empty
    return load_json(raw)


async def api_json(request: Request, *, empty: Any = None) -> Any:
    """:func:`read_json` for the JSON API: 400 ``invalid_request`` saying what is wrong."""
    try:
        return await read_json(request, empty=empty)
    except BadInput as exc:
        raise ApiError(400, "invalid_request", str(exc)) from exc


async def api_object(request: Request) -> dict[str, Any]:
    """The body of an API request that takes a JSON object or a form (Cobot's API takes
    both): a JSON object (400 ``invalid_request`` for any other JSON), else the form fields."""
    if media_type(request) != JSON_TYPE:
        return dict(await read_form(request))
    body = await api_json(request, empty={})
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "send a JSON object")
    return body
