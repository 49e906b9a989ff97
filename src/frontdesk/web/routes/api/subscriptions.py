"""``<space host>/api/subscriptions`` (Cobot API 1's webhook subscriptions): an app asks to be
told about one event of a space at a callback URL.

An admin's user token or that space's token: ``write_subscriptions`` to subscribe and
unsubscribe, ``read_subscriptions`` (or ``write_subscriptions``) to list. Subscriptions belong
to the app that made them in that space: listing and deleting see only the calling app's.
Deliveries are Standard Webhooks messages signed with the subscription's ``secret`` (returned
once, when it is made); docs/integrating.md, "Webhooks".
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, Response

from frontdesk.errors import Conflict, FieldError, NotFound
from frontdesk.records import SpaceRef
from frontdesk.services import webhooks
from frontdesk.services.webhooks import EndpointRecord
from frontdesk.web import routing
from frontdesk.web.api_auth import ApiError, Caller, admin_space, require
from frontdesk.web.api_models import ErrorOut
from frontdesk.web.bodies import api_object
from frontdesk.web.deps import State, Work

ELSEWHERE = "subscriptions live on a space's host"
router = routing.router(tags=["webhook subscriptions"])
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut},
    403: {"model": ErrorOut},
    404: {"model": ErrorOut},
    409: {"model": ErrorOut},
    422: {"model": ErrorOut},
}
Anyone = Annotated[Caller, Depends(require(None))]
Writer = Annotated[Caller, Depends(require("write_subscriptions"))]


class SubscriptionIn(BaseModel):
    event: str = Field(
        description=(
            "A space event type (docs/integrating.md, Webhooks) or one of Cobot's names: "
            + ", ".join(webhooks.COBOT_EVENTS)
        )
    )
    callback_url: str = Field(description="Where deliveries are POSTed (https)")


class SubscriptionOut(BaseModel):
    id: str
    event: str
    callback_url: str
    url: str = Field(description="API URL of the subscription (DELETE it to unsubscribe)")
    active: bool


class CreatedSubscriptionOut(SubscriptionOut):
    secret: str = Field(description="Signing secret (whsec_…) to verify deliveries; shown only now")


def subscription_json(st: State, space: SpaceRef, endpoint: EndpointRecord) -> dict[str, Any]:
    origin = st.settings.space_url(space.subdomain)
    return {
        "id": endpoint.id,
        "event": endpoint.subscribed_as or ",".join(endpoint.event_types),
        "callback_url": endpoint.url,
        "url": f"{origin}/api/subscriptions/{endpoint.id}",
        "active": endpoint.active,
    }


@router.get(
    "/api/subscriptions",
    response_model=list[SubscriptionOut],
    responses=ERRORS,
    summary="This app's webhook subscriptions in this space",
)
async def list_subscriptions(request: Request, caller: Anyone, st: State, uow: Work) -> JSONResponse:
    if "write_subscriptions" not in caller.token.scopes:
        st.oauth.bearer.require_scope(caller.token, "read_subscriptions")
    space = await admin_space(request, uow, caller, elsewhere=ELSEWHERE)
    found = await webhooks.list_endpoints(
        uow.session, st.server_secret, space_id=space.id, app_id=caller.token.client_id
    )
    return JSONResponse([subscription_json(st, space, e) for e in found])


@router.post(
    "/api/subscriptions",
    status_code=201,
    response_model=CreatedSubscriptionOut,
    responses=ERRORS,
    openapi_extra={
        "requestBody": {"content": {"application/json": {"schema": SubscriptionIn.model_json_schema()}}}
    },
    summary="Subscribe to an event of this space",
)
async def create_subscription(request: Request, caller: Writer, st: State, uow: Work) -> JSONResponse:
    space = await admin_space(request, uow, caller, elsewhere=ELSEWHERE)
    body = await api_object(request)
    event = body.get("event")
    callback_url = body.get("callback_url")
    if not isinstance(event, str) or not isinstance(callback_url, str) or not event or not callback_url:
        raise ApiError(422, "invalid_request", "send event and callback_url (strings)")
    try:
        endpoint, secret = await webhooks.create_endpoint(
            uow.session,
            st.server_secret,
            st.settings,
            url=callback_url,
            event_types=[event],
            space_id=space.id,
            app_id=caller.token.client_id,
            created_by=caller.token.user_id,
            subscribed_as=event.strip()[:60],
        )
    except FieldError as exc:
        raise ApiError(422, "invalid_request", f"{exc.field}: {exc.message}") from exc
    except Conflict as exc:
        raise ApiError(409, "conflict", exc.message) from exc
    return JSONResponse({**subscription_json(st, space, endpoint), "secret": secret}, status_code=201)


@router.delete(
    "/api/subscriptions/{subscription_id}",
    status_code=204,
    responses=ERRORS,
    summary="Unsubscribe",
)
async def delete_subscription(subscription_id: str, request: Request, caller: Writer, uow: Work) -> Response:
    space = await admin_space(request, uow, caller, elsewhere=ELSEWHERE)
    try:
        await webhooks.remove_endpoint(
            uow.session, subscription_id, space_id=space.id, app_id=caller.token.client_id
        )
    except NotFound as exc:
        raise ApiError(404, "not_found", "no such subscription of this app in this space") from exc
    return Response(status_code=204)
