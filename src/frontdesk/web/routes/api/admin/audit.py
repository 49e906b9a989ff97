"""``/api/admin/audit``: the audit log, newest first, by cursor (scope ``admin:audit:read``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query
from starlette.responses import JSONResponse

from frontdesk.services import admin
from frontdesk.web import routing
from frontdesk.web.admin_auth import AdminCaller, require_admin
from frontdesk.web.deps import Work
from frontdesk.web.routes.api.admin.common import PageCursor, PageLimit, domain_errors
from frontdesk.web.routes.api.admin.models import AuditEventOut, AuditPage

router = routing.router(tags=["admin: audit"])
Reader = Annotated[AdminCaller, Depends(require_admin("admin:audit:read"))]


@router.get("/api/admin/audit", response_model=AuditPage, summary="Audit events, filtered, by cursor")
async def audit_events(
    caller: Reader,
    uow: Work,
    user_id: Annotated[str | None, Query(max_length=64)] = None,
    app_id: Annotated[str | None, Query(max_length=64)] = None,
    space_id: Annotated[str | None, Query(max_length=64)] = None,
    kind: Annotated[
        str | None, Query(max_length=50, description="An event (token.issued) or a family (token).")
    ] = None,
    since: Annotated[datetime | None, Query(description="ISO 8601, inclusive.")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601, exclusive.")] = None,
    limit: PageLimit = 50,
    cursor: PageCursor = None,
) -> JSONResponse:
    with domain_errors():
        rows, next_cursor = await admin.audit_page(
            uow.session,
            user_id=user_id,
            app_id=app_id,
            space_id=space_id,
            kind=kind,
            since=since,
            until=until,
            cursor=cursor,
            limit=limit,
        )
    events = [AuditEventOut.model_validate(r, from_attributes=True).model_dump(mode="json") for r in rows]
    return JSONResponse({"events": events, "next_cursor": next_cursor})
