"""Creating spaces (main host) and administering one (on the space's own host)."""

from __future__ import annotations

from fastapi import HTTPException, Request
from starlette.responses import RedirectResponse, Response

from frontdesk.errors import FieldError, FrontdeskError, NotFound
from frontdesk.i18n import N_, Text
from frontdesk.records import SpaceRef
from frontdesk.services import domains, invitations, spaces
from frontdesk.services.work import UnitOfWork
from frontdesk.web import routing
from frontdesk.web.deps import (
    CurrentSpace,
    CurrentUser,
    MainSite,
    SpaceAdmin,
    State,
    Work,
    checked_form,
    form_str,
)
from frontdesk.web.templating import flash, render

router = routing.router()


def _see_other(request: Request, url: str, message: str | None = None) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    if message:
        flash(request, response, message)
    return response


@router.get("/spaces/new", include_in_schema=False)
async def new_space_form(request: Request, site: MainSite, user: CurrentUser) -> Response:
    return render(request, "space_new.html")


@router.post("/spaces/new", include_in_schema=False)
async def create_space(request: Request, site: MainSite, st: State, uow: Work, user: CurrentUser) -> Response:
    form = await checked_form(request)
    values = {k: form_str(form, k) for k in ("name", "subdomain", "custom_domain")}
    try:
        space = await spaces.create_space(
            uow.session,
            st.settings,
            subdomain=values["subdomain"],
            name=values["name"],
            owner=user,
            custom_domain=values["custom_domain"] or None,
        )
    except FieldError as exc:
        return render(
            request, "space_new.html", {"errors": {exc.field: exc.message}, "values": values}, status_code=422
        )
    url = spaces.space_url(st.settings, space)
    message = f"Created {space.name}. It lives at {url}; log in there to manage it."
    if values["custom_domain"] and space.custom_domain is None:
        message += " Its custom domain is served once you verify it there (Settings)."
    return _see_other(request, "/", message)


async def members_page(
    request: Request,
    uow: UnitOfWork,
    space: SpaceRef,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """The members page: members, pending invitations (web/routes/pages/invitations.py) and
    the forms to add or invite someone."""
    context = {
        "space": space,
        "members": await spaces.list_members(uow.session, space.id),
        "invitations": await invitations.pending(uow.session, space.id),
        "errors": errors or {},
        "values": values or {},
    }
    return render(request, "space_members.html", context, status_code=status_code, headers=headers)


@router.get("/admin/members", include_in_schema=False)
async def members(request: Request, space: CurrentSpace, admin: SpaceAdmin, uow: Work) -> Response:
    return await members_page(request, uow, space)


@router.post("/admin/members", include_in_schema=False)
async def add_member(request: Request, space: CurrentSpace, admin: SpaceAdmin, uow: Work) -> Response:
    form = await checked_form(request)
    values = {k: form_str(form, k) for k in ("email", "role", "admin_name")}
    try:
        membership = await spaces.add_member(
            uow.session,
            space,
            email=values["email"],
            role=values["role"] or "member",
            admin_name=values["admin_name"],
        )
    except FrontdeskError as exc:
        field = exc.field if isinstance(exc, FieldError) else "email"
        return await members_page(request, uow, space, {field: exc.message}, values, 422)
    return _see_other(
        request, "/admin/members", f"{membership.user.email} is now {membership.role} of {space.name}."
    )


@router.post("/admin/members/{membership_id}", include_in_schema=False)
async def change_member(
    request: Request, membership_id: str, space: CurrentSpace, admin: SpaceAdmin, uow: Work
) -> Response:
    form = await checked_form(request)
    action = form_str(form, "action")
    try:
        if action == "remove":
            await spaces.remove_member(uow.session, space, membership_id)
            message = N_("Removed.")
        elif action in ("admin", "member"):
            await spaces.change_role(uow.session, space, membership_id, action)
            message = N_("Role changed to admin.") if action == "admin" else N_("Role changed to member.")
        else:
            raise HTTPException(400, N_("Unknown action."))
    except NotFound as exc:
        raise HTTPException(404, exc.message) from exc
    except FieldError as exc:
        return _see_other(request, "/admin/members", exc.message)
    return _see_other(request, "/admin/members", message)


async def _settings_page(
    request: Request,
    uow: UnitOfWork,
    space: SpaceRef,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    state = await domains.domain_state(uow.session, space.id)
    if values is None:
        values = {"name": space.name, "custom_domain": state.pending or state.verified or ""}
    context = {"space": space, "values": values, "errors": errors or {}, "domain": state}
    return render(request, "space_settings.html", context, status_code=status_code)


@router.get("/admin/settings", include_in_schema=False)
async def settings_form(request: Request, space: CurrentSpace, admin: SpaceAdmin, uow: Work) -> Response:
    return await _settings_page(request, uow, space)


@router.post("/admin/settings/domain", include_in_schema=False)
async def check_domain(
    request: Request, space: CurrentSpace, admin: SpaceAdmin, st: State, uow: Work
) -> Response:
    """ "Check now": look up the pending custom domain's TXT record (services/domains.py)."""
    await checked_form(request)
    try:
        result = await domains.check_domain(uow.session, st.settings, space.id)
    except FieldError as exc:
        return _see_other(request, "/admin/settings", exc.message)
    return _see_other(request, "/admin/settings", result.message)


@router.post("/admin/settings", include_in_schema=False)
async def save_settings(
    request: Request, space: CurrentSpace, admin: SpaceAdmin, st: State, uow: Work
) -> Response:
    form = await checked_form(request)
    values = {k: form_str(form, k) for k in ("name", "custom_domain")}
    try:
        await spaces.update_space(
            uow.session, st.settings, space.id, name=values["name"], custom_domain=values["custom_domain"]
        )
    except FieldError as exc:
        return await _settings_page(request, uow, space, values, {exc.field: exc.message}, 422)
    state = await domains.domain_state(uow.session, space.id)
    if state.pending:
        return _see_other(
            request,
            "/admin/settings",
            Text(
                N_("Settings saved. {domain} is served once its DNS record is verified: see below."),
                domain=state.pending,
            ),
        )
    return _see_other(request, "/admin/settings", N_("Settings saved."))
