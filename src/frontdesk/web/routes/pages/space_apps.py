"""Space admins: apps holding space tokens for their space (on the space's own host).

Space tokens belong to the space, not to the admin who created them, so any admin of the space
sees and revokes them here (see :mod:`frontdesk.services.grants`).
"""

from __future__ import annotations

from fastapi import HTTPException, Request
from starlette.responses import RedirectResponse, Response

from frontdesk.i18n import N_
from frontdesk.services import grants
from frontdesk.web import routing
from frontdesk.web.deps import CurrentSpace, SpaceAdmin, Work, checked_form
from frontdesk.web.templating import flash, gettext, render

router = routing.router()


@router.get("/admin/apps", include_in_schema=False)
async def apps_page(request: Request, space: CurrentSpace, admin: SpaceAdmin, uow: Work) -> Response:
    found = await grants.space_grants(uow.session, space.id)
    return render(request, "space_apps.html", {"space": space, "grants": found})


@router.post("/admin/apps/{client_id}/revoke", include_in_schema=False)
async def revoke(
    request: Request, client_id: str, space: CurrentSpace, admin: SpaceAdmin, uow: Work
) -> Response:
    await checked_form(request)
    app = await uow.storage.get_client(client_id)
    revoked = await grants.revoke_space_app(
        uow.session, space.id, client_id, by=admin.user.id, ip=request.state.client_ip
    )
    if app is None or revoked is None:
        raise HTTPException(404, N_("This app holds no space tokens for this space."))
    response = RedirectResponse("/admin/apps", status_code=303)
    flash(
        request,
        response,
        gettext(request, N_("Revoked {app}'s access to {space}.")).format(app=app.name, space=space.name),
    )
    return response
