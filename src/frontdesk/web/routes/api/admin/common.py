"""What every admin API route shares: reading a JSON body into its model, turning domain
errors into JSON answers (a missing resource into a 404), and the documented error answers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

from fastapi import Query
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from frontdesk.errors import Conflict, FieldError, Forbidden, NotFound
from frontdesk.oauth.models import Person
from frontdesk.services import accounts, admin
from frontdesk.web.api_models import ErrorOut
from frontdesk.web.bodies import JSON_TYPE, api_json, media_type
from frontdesk.web.errors import ApiError

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No such resource"},
    409: {"model": ErrorOut, "description": "Conflicts with the current state"},
}
NO_STORE = {"Cache-Control": "no-store"}
# A page of a list (cursor pagination, services/admin.py): its size, and where it goes on.
PageLimit = Annotated[int, Query(ge=1, le=admin.MAX_LIMIT, description="How many at most.")]
PageCursor = Annotated[str | None, Query(max_length=400, description="next_cursor of the previous page.")]


def body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` documenting a JSON request body (read by :func:`read_body`)."""
    return {
        "requestBody": {
            "required": True,
            "content": {JSON_TYPE: {"schema": model.model_json_schema()}},
        }
    }


async def read_body(request: Request, model: type[M]) -> M:
    """The JSON body (web/bodies.py reads it) as ``model``; 400 ``invalid_request`` otherwise."""
    if media_type(request) != JSON_TYPE:
        raise ApiError(400, "invalid_request", "send a JSON body (Content-Type: application/json)")
    raw = await api_json(request, empty={})
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise ApiError(400, "invalid_request", f"{where}: {first.get('msg', 'invalid')}") from None


def found(value: T | None, what: str) -> T:
    """``value``, or a 404 ``not_found`` saying ``what`` is missing."""
    if value is None:
        raise ApiError(404, "not_found", what)
    return value


@contextmanager
def domain_errors() -> Iterator[None]:
    """Domain errors of the services as the API's JSON errors."""
    try:
        yield
    except FieldError as exc:
        raise ApiError(400, "invalid_request", f"{exc.field}: {exc.message}") from exc
    except NotFound as exc:
        raise ApiError(404, "not_found", exc.message) from exc
    except Forbidden as exc:
        raise ApiError(403, "forbidden", exc.message) from exc
    except Conflict as exc:
        raise ApiError(409, "conflict", exc.message) from exc


async def owner_of(session: Any, owner_id: str) -> Person:
    """The account named as the owner of a new app or space, else 404."""
    return found(await accounts.get_person(session, owner_id), "no user with that owner_id")
