"""``/api/admin/apps``: registered apps, their secrets and tokens (scopes ``admin:apps:read``
and ``admin:apps:write``).

Rotating a secret with ``overlap_seconds`` keeps the previous secret working until then, so
an app's servers can switch over one by one; both are accepted meanwhile (services/apps.py)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.responses import JSONResponse, Response

from frontdesk.oauth.models import Client
from frontdesk.services import admin, grants
from frontdesk.services import apps as app_service
from frontdesk.services.work import UnitOfWork
from frontdesk.web import routing
from frontdesk.web.admin_auth import AdminCaller, require_admin
from frontdesk.web.deps import State, Work
from frontdesk.web.errors import ApiError
from frontdesk.web.routes.api.admin.common import (
    ERRORS,
    NO_STORE,
    PageCursor,
    PageLimit,
    body_doc,
    domain_errors,
    found,
    owner_of,
    read_body,
)
from frontdesk.web.routes.api.admin.models import (
    AdminAppCreated,
    AdminAppIn,
    AdminAppList,
    AdminAppOut,
    AdminAppPatch,
    AdminTokenList,
    RevokedOut,
    RotatedSecretOut,
    RotateSecretIn,
)
from frontdesk.web.routes.api.admin.tokens import revoked_json, tokens_json

router = routing.router(tags=["admin: apps"])
Reader = Annotated[AdminCaller, Depends(require_admin("admin:apps:read"))]
Writer = Annotated[AdminCaller, Depends(require_admin("admin:apps:write"))]


def app_json(app: Client) -> dict[str, Any]:
    return AdminAppOut(
        client_id=app.client_id,
        name=app.name,
        owner_id=app.owner_id,
        name_in_space=app.name_in_space,
        main_url=app.main_url,
        redirect_uris=list(app.redirect_uris),
        scopes=list(app.scopes),
        public=app.public,
        password_grant=app.password_grant,
        allow_redirect_query=app.allow_redirect_query,
        trusted=app.trusted,
        require_pkce=app.pkce_required,
        access_token_ttl=app.access_token_ttl,
        can_introspect=app.can_introspect,
        client_credentials=app.client_credentials,
        admin_scopes=list(app.admin_scopes),
        dpop_required=app.dpop_required,
        par_required=app.par_required,
        post_logout_redirect_uris=list(app.post_logout_redirect_uris),
        backchannel_logout_uri=app.backchannel_logout_uri,
        token_endpoint_auth_method=app_service.auth_method_of(app),
        jwks=json.loads(app.jwks) if app.jwks else None,
        jwks_uri=app.jwks_uri,
        fapi2=app.fapi,
        registered_via=app.registered_via,
        created_at=app.created_at,
    ).model_dump(mode="json")


async def existing_app(uow: UnitOfWork, client_id: str) -> Client:
    return found(await app_service.get_app(uow.session, client_id), "no app with this client id")


@router.get("/api/admin/apps", response_model=AdminAppList, summary="List apps")
async def list_apps(caller: Reader, uow: Work) -> JSONResponse:
    found = await app_service.all_apps(uow.session)
    return JSONResponse({"apps": [app_json(app) for app, _ in found]})


@router.post(
    "/api/admin/apps",
    status_code=201,
    response_model=AdminAppCreated,
    responses=ERRORS,
    openapi_extra=body_doc(AdminAppIn),
    summary="Register an app (its secret is in the answer, once)",
)
async def create_app(request: Request, caller: Writer, st: State, uow: Work) -> JSONResponse:
    body = await read_body(request, AdminAppIn)
    with domain_errors():
        owner = await owner_of(uow.session, body.owner_id)
        created = await app_service.register_app(
            uow.session,
            st.server_secret,
            owner=owner,
            name=body.name,
            redirect_uris=body.redirect_uris,
            scopes=body.scopes,
            name_in_space=body.name_in_space,
            main_url=body.main_url,
            password_grant=body.password_grant,
            public=body.public,
            allow_redirect_query=body.allow_redirect_query,
            trusted=body.trusted,
            require_pkce=body.require_pkce,
            access_token_ttl=body.access_token_ttl,
            can_introspect=body.can_introspect,
            client_credentials=body.client_credentials,
            admin_scopes=body.admin_scopes,
            dpop_required=body.dpop_required,
            par_required=body.par_required,
            registered_via="api",
            post_logout_redirect_uris=body.post_logout_redirect_uris,
            backchannel_logout_uri=body.backchannel_logout_uri,
            token_endpoint_auth_method=body.token_endpoint_auth_method,
            jwks=body.jwks,
            jwks_uri=body.jwks_uri,
            fapi2=body.fapi2,
        )
    await caller.record("apps.create", target_client_id=created.app.client_id, user_id=owner.id)
    data = {**app_json(created.app), "client_secret": created.client_secret}
    return JSONResponse(data, status_code=201, headers=NO_STORE)


@router.get("/api/admin/apps/{client_id}", response_model=AdminAppOut, responses=ERRORS, summary="One app")
async def get_app(client_id: str, caller: Reader, uow: Work) -> JSONResponse:
    return JSONResponse(app_json(await existing_app(uow, client_id)))


@router.patch(
    "/api/admin/apps/{client_id}",
    response_model=AdminAppOut,
    responses=ERRORS,
    openapi_extra=body_doc(AdminAppPatch),
    summary="Change an app's settings",
)
async def update_app(client_id: str, request: Request, caller: Writer, uow: Work) -> JSONResponse:
    body = await read_body(request, AdminAppPatch)
    await existing_app(uow, client_id)
    given = {k: v for k, v in body.model_dump().items() if k in body.model_fields_set}
    if "access_token_ttl" in given:
        given["access_token_ttl"] = given["access_token_ttl"] or None  # 0: never expire
    with domain_errors():
        changed = await app_service.update_app(uow.session, client_id, **given)
    await caller.record("apps.update", target_client_id=client_id, fields=sorted(given))
    return JSONResponse(app_json(changed))


@router.delete(
    "/api/admin/apps/{client_id}", status_code=204, responses=ERRORS, summary="Delete an app and its tokens"
)
async def delete_app(client_id: str, caller: Writer, uow: Work) -> Response:
    await existing_app(uow, client_id)
    if client_id == caller.client_id:
        raise ApiError(409, "conflict", "an app cannot delete itself through the admin API")
    with domain_errors():
        await app_service.delete_app(uow.session, client_id)
    await caller.record("apps.delete", target_client_id=client_id)
    return Response(status_code=204)


@router.post(
    "/api/admin/apps/{client_id}/secret",
    response_model=RotatedSecretOut,
    responses=ERRORS,
    openapi_extra=body_doc(RotateSecretIn),
    summary="Rotate an app's client secret, optionally with an overlap window",
)
async def rotate_secret(
    client_id: str, request: Request, caller: Writer, st: State, uow: Work
) -> JSONResponse:
    body = await read_body(request, RotateSecretIn)
    await existing_app(uow, client_id)
    with domain_errors():
        rotated = await app_service.rotate_secret(
            uow.session, st.server_secret, client_id, overlap_seconds=body.overlap_seconds, ip=caller.ip
        )
    await caller.record(
        "apps.rotate_secret", target_client_id=client_id, overlap_seconds=body.overlap_seconds
    )
    until = rotated.previous_expires_at
    return JSONResponse(
        {
            "client_secret": rotated.client_secret,
            "previous_secret_expires_at": until.isoformat() if until else None,
        },
        headers=NO_STORE,
    )


@router.get(
    "/api/admin/apps/{client_id}/tokens",
    response_model=AdminTokenList,
    responses=ERRORS,
    summary="An app's live access tokens (never their values)",
)
async def app_tokens(
    client_id: str,
    caller: Reader,
    uow: Work,
    limit: PageLimit = 50,
    cursor: PageCursor = None,
) -> JSONResponse:
    await existing_app(uow, client_id)
    with domain_errors():
        rows, next_cursor = await admin.live_tokens(
            uow.session, client_id=client_id, cursor=cursor, limit=limit
        )
    return JSONResponse(tokens_json(rows, next_cursor))


@router.delete(
    "/api/admin/apps/{client_id}/tokens",
    response_model=RevokedOut,
    responses=ERRORS,
    summary="Revoke everything an app holds (tokens, codes, consents)",
)
async def revoke_app_tokens(client_id: str, caller: Writer, uow: Work) -> JSONResponse:
    await existing_app(uow, client_id)
    with domain_errors():
        revoked = await grants.revoke_tokens(uow.session, client_id=client_id)
    await caller.record("apps.revoke", target_client_id=client_id, tokens=len(revoked.access_token_ids))
    return JSONResponse(revoked_json(revoked))
