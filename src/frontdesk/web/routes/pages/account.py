"""A person's own account pages: authorized apps and their security activity (main host).

``/account/apps`` lists every app that can act for the person (see
:mod:`frontdesk.services.grants`); "Revoke access" takes back everything the person gave it.
"""

from __future__ import annotations

from fastapi import HTTPException, Request
from starlette.responses import RedirectResponse, Response

from frontdesk.oauth.scopes import catalogue
from frontdesk.services import audit, grants
from frontdesk.web import routing
from frontdesk.web.deps import CurrentUser, MainSite, Work, checked_form
from frontdesk.web.templating import flash, render

router = routing.router()

PER_PAGE = 50


@router.get("/account/apps", include_in_schema=False)
async def apps_page(request: Request, site: MainSite, uow: Work, user: CurrentUser) -> Response:
    cat = catalogue()
    found = await grants.authorized_apps(uow.session, user.id)
    described = {name: cat.describe(name) for g in found for name in g.scopes}
    return render(request, "account_apps.html", {"grants": found, "describe": described})


@router.post("/account/apps/{client_id}/revoke", include_in_schema=False)
async def revoke(request: Request, client_id: str, site: MainSite, uow: Work, user: CurrentUser) -> Response:
    await checked_form(request)
    app = await uow.storage.get_client(client_id)
    revoked = await grants.revoke_app(uow.session, user.id, client_id, ip=request.state.client_ip)
    if app is None or revoked is None:
        # The same answer whether the app does not exist or has no access: reveals nothing.
        raise HTTPException(404, "This app holds no access to your account.")
    response = RedirectResponse("/account/apps", status_code=303)
    flash(request, response, f"{app.name} no longer has access to your account.")
    return response


@router.get("/account/activity", include_in_schema=False)
async def activity_page(
    request: Request, site: MainSite, uow: Work, user: CurrentUser, page: int = 1
) -> Response:
    found = await audit.events_of_user(
        uow.session, user.id, page=max(1, min(page, 10_000)), per_page=PER_PAGE
    )
    return render(request, "account_activity.html", {"page": found})
