"""``<space host>/api/navigation_links`` (Cobot API 1): an app's pages in a space.

An admin's user token or that space's token with scope ``navigation`` (which implies
``read_navigation_links`` and ``write_navigation_links``). Links belong to the app that made
them: listing and deleting only ever see the calling app's links.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.responses import JSONResponse, Response

from frontdesk.errors import FieldError, NotFound
from frontdesk.records import NavigationLinkRecord, SpaceRef
from frontdesk.services import navigation
from frontdesk.services.spaces import space_url
from frontdesk.web import routing
from frontdesk.web.api_auth import ApiError, Caller, admin_space, require
from frontdesk.web.api_models import ErrorOut, NavigationLinkIn, NavigationLinkOut
from frontdesk.web.bodies import api_object
from frontdesk.web.deps import State, Work

ELSEWHERE = "navigation links live on a space's host"
router = routing.router(tags=["navigation links"])
ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorOut},
    404: {"model": ErrorOut},
    422: {"model": ErrorOut},
}
Reader = Annotated[Caller, Depends(require("read_navigation_links"))]
Writer = Annotated[Caller, Depends(require("write_navigation_links"))]


def link_json(st: State, space: SpaceRef, link: NavigationLinkRecord) -> dict[str, Any]:
    origin = st.settings.space_url(space.subdomain)
    return {
        "id": link.id,
        "section": link.section,
        "label": link.label,
        "iframe_url": link.iframe_url,
        "user_editable": link.user_editable,
        "url": f"{origin}/api/navigation_links/{link.id}",
        # People open the page on the space's canonical host (its custom domain when set).
        "user_url": f"{space_url(st.settings, space)}/navigation/{link.id}",
    }


@router.get(
    "/api/navigation_links",
    response_model=list[NavigationLinkOut],
    responses=ERRORS,
    summary="This app's navigation links in this space",
)
async def list_links(request: Request, caller: Reader, st: State, uow: Work) -> JSONResponse:
    space = await admin_space(request, uow, caller, elsewhere=ELSEWHERE)
    links = await navigation.links_of_app(uow.session, space.id, caller.token.client_id)
    return JSONResponse([link_json(st, space, link) for link in links])


def _bool(value: Any, default: bool = True) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


@router.post(
    "/api/navigation_links",
    status_code=201,
    response_model=NavigationLinkOut,
    responses=ERRORS,
    openapi_extra={
        "requestBody": {"content": {"application/json": {"schema": NavigationLinkIn.model_json_schema()}}}
    },
    summary="Add a navigation link",
)
async def create_link(request: Request, caller: Writer, st: State, uow: Work) -> JSONResponse:
    space = await admin_space(request, uow, caller, elsewhere=ELSEWHERE)
    body = await api_object(request)
    try:
        link = await navigation.create_link(
            uow.session,
            space_id=space.id,
            app_id=caller.token.client_id,
            user_id=caller.user.id,
            section=str(body.get("section") or ""),
            label=str(body.get("label") or ""),
            iframe_url=str(body.get("iframe_url") or ""),
            user_editable=_bool(body.get("user_editable")),
            development=st.settings.env == "development",
        )
    except FieldError as exc:
        raise ApiError(422, "invalid_request", f"{exc.field}: {exc.message}") from exc
    return JSONResponse(link_json(st, space, link), status_code=201)


@router.get(
    "/api/navigation_links/{link_id}",
    response_model=NavigationLinkOut,
    responses=ERRORS,
    summary="One of this app's navigation links",
)
async def get_link(link_id: str, request: Request, caller: Reader, st: State, uow: Work) -> JSONResponse:
    space = await admin_space(request, uow, caller, elsewhere=ELSEWHERE)
    try:
        link = await navigation.get_link(uow.session, space.id, link_id)
    except NotFound as exc:
        raise ApiError(404, "not_found", exc.message) from exc
    if link.app_id != caller.token.client_id:
        raise ApiError(404, "not_found", "no such navigation link of this app")
    return JSONResponse(link_json(st, space, link))


@router.delete(
    "/api/navigation_links/{link_id}",
    status_code=204,
    responses=ERRORS,
    summary="Delete one of this app's navigation links",
)
async def delete_link(link_id: str, request: Request, caller: Writer, uow: Work) -> Response:
    space = await admin_space(request, uow, caller, elsewhere=ELSEWHERE)
    try:
        await navigation.delete_link(uow.session, space.id, caller.token.client_id, link_id)
    except NotFound as exc:
        raise ApiError(404, "not_found", exc.message) from exc
    return Response(status_code=204)
