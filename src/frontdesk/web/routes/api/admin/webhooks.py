"""``/api/admin/webhooks``: the operator's webhook endpoints and every endpoint's delivery log
(scopes ``admin:webhooks:read`` and ``admin:webhooks:write``; docs/integrating.md "Webhooks").
The same operations as ``frontdesk webhooks …``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, Response

from frontdesk.services import webhooks
from frontdesk.services.webhooks import DeliveryRecord, EndpointRecord
from frontdesk.web import routing
from frontdesk.web.admin_auth import AdminCaller, require_admin
from frontdesk.web.deps import State, Work
from frontdesk.web.routes.api.admin.common import ERRORS, NO_STORE, body_doc, domain_errors, read_body
from frontdesk.web.routes.api.admin.models import Body

router = routing.router(tags=["admin: webhooks"])
Reader = Annotated[AdminCaller, Depends(require_admin("admin:webhooks:read"))]
Writer = Annotated[AdminCaller, Depends(require_admin("admin:webhooks:write"))]


class WebhookEndpointIn(Body):
    url: str = Field(description="Where deliveries are POSTed (https).")
    events: list[str] = Field(
        default_factory=lambda: ["*"], description="Event types (docs/integrating.md); default: all."
    )
    description: str = Field("", max_length=200)


class WebhookEndpointOut(BaseModel):
    id: str
    url: str
    events: list[str]
    space_id: str | None = Field(description="A space's subscription; null: an operator endpoint")
    app_id: str | None
    description: str
    active: bool
    disabled_at: datetime | None
    disabled_reason: str | None
    failing_since: datetime | None


class CreatedWebhookEndpointOut(WebhookEndpointOut):
    secret: str = Field(description="Signing secret (whsec_…); shown only now")


class WebhookEndpointList(BaseModel):
    endpoints: list[WebhookEndpointOut]


class DeliveryOut(BaseModel):
    delivery: int = Field(description="The delivery's number (to send it again)")
    message_id: str = Field(description="The webhook-id header")
    endpoint_id: str
    event: str
    status: str = Field(description="pending, delivered or failed")
    attempts: int
    response_status: int | None
    last_error: str | None
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime
    delivered_at: datetime | None


class DeliveryList(BaseModel):
    deliveries: list[DeliveryOut]


def endpoint_json(e: EndpointRecord) -> dict[str, object]:
    return WebhookEndpointOut(
        id=e.id,
        url=e.url,
        events=list(e.event_types),
        space_id=e.space_id,
        app_id=e.app_id,
        description=e.description,
        active=e.active,
        disabled_at=e.disabled_at,
        disabled_reason=e.disabled_reason,
        failing_since=e.failing_since,
    ).model_dump(mode="json")


def delivery_json(d: DeliveryRecord) -> dict[str, object]:
    return DeliveryOut(
        delivery=d.seq,
        message_id=d.message_id,
        endpoint_id=d.endpoint_id,
        event=d.event_type,
        status=d.status,
        attempts=d.attempts,
        response_status=d.response_status,
        last_error=d.last_error,
        created_at=d.created_at,
        last_attempt_at=d.last_attempt_at,
        next_attempt_at=d.next_attempt_at,
        delivered_at=d.delivered_at,
    ).model_dump(mode="json")


@router.get(
    "/api/admin/webhooks",
    response_model=WebhookEndpointList,
    summary="Every webhook endpoint (the operator's and the spaces' subscriptions)",
)
async def list_endpoints(caller: Reader, st: State, uow: Work) -> JSONResponse:
    found = await webhooks.list_endpoints(uow.session, st.server_secret)
    return JSONResponse({"endpoints": [endpoint_json(e) for e in found]})


@router.post(
    "/api/admin/webhooks",
    status_code=201,
    response_model=CreatedWebhookEndpointOut,
    responses=ERRORS,
    openapi_extra=body_doc(WebhookEndpointIn),
    summary="Add an operator endpoint (every space's events)",
)
async def create_endpoint(request: Request, caller: Writer, st: State, uow: Work) -> JSONResponse:
    body = await read_body(request, WebhookEndpointIn)
    with domain_errors():
        endpoint, secret = await webhooks.create_endpoint(
            uow.session,
            st.server_secret,
            st.settings,
            url=body.url,
            event_types=body.events,
            description=body.description,
        )
    await caller.record("webhooks.create", endpoint_id=endpoint.id)
    return JSONResponse({**endpoint_json(endpoint), "secret": secret}, status_code=201, headers=NO_STORE)


@router.delete(
    "/api/admin/webhooks/{endpoint_id}",
    status_code=204,
    responses=ERRORS,
    summary="Delete an endpoint and its delivery log",
)
async def delete_endpoint(endpoint_id: str, caller: Writer, uow: Work) -> Response:
    with domain_errors():
        await webhooks.remove_endpoint(uow.session, endpoint_id)
    await caller.record("webhooks.delete", endpoint_id=endpoint_id)
    return Response(status_code=204)


@router.get(
    "/api/admin/webhooks/{endpoint_id}/deliveries",
    response_model=DeliveryList,
    responses=ERRORS,
    summary="An endpoint's delivery log, newest first",
)
async def list_deliveries(
    endpoint_id: str,
    caller: Reader,
    st: State,
    uow: Work,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> JSONResponse:
    with domain_errors():
        await webhooks.get_endpoint(uow.session, st.server_secret, endpoint_id)
        found = await webhooks.deliveries(uow.session, endpoint_id=endpoint_id, limit=limit)
    return JSONResponse({"deliveries": [delivery_json(d) for d in found]})


class ResendIn(Body):
    delivery: int = Field(ge=1, le=2**62, description="The delivery's number (from a delivery log)")


@router.post(
    "/api/admin/webhooks/deliveries/resend",
    status_code=201,
    response_model=DeliveryOut,
    responses=ERRORS,
    openapi_extra=body_doc(ResendIn),
    summary="Send a delivery again (same webhook-id), after its endpoint's queue",
)
async def resend(request: Request, caller: Writer, uow: Work) -> JSONResponse:
    body = await read_body(request, ResendIn)
    with domain_errors():
        again = await webhooks.resend(uow.session, body.delivery)
    await caller.record("webhooks.resend", endpoint_id=again.endpoint_id, delivery=again.seq)
    return JSONResponse(delivery_json(again), status_code=201)
