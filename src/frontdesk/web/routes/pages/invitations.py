"""Invitations to a space by email, on the space's own host (docs/guide.md, "Accounts"; the
rules: :mod:`frontdesk.services.invitations`).

Admins invite from the members page (limited per space) and withdraw pending invitations
there. ``/invitation?token=…`` shows the space and the role; a logged-in person accepts with
their account, someone logged out logs in (the login page comes back here) or, when no account
has the invited address, creates one on this page. Only the POSTs use the link.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import HTTPException, Request
from starlette.responses import RedirectResponse, Response

from frontdesk.errors import FieldError, NotFound
from frontdesk.i18n import N_, Text, wait_in_words
from frontdesk.records import SpaceRef
from frontdesk.security.passwords import HashingBusy
from frontdesk.services import invitations, spaces
from frontdesk.services.email_links import EXPIRED
from frontdesk.services.invitations import Accepted, InvitationState
from frontdesk.web import routing
from frontdesk.web.deps import (
    CurrentSpace,
    OptionalUser,
    SpaceAdmin,
    State,
    Work,
    checked_form,
    form_str,
)
from frontdesk.web.routes.pages.auth import log_in
from frontdesk.web.routes.pages.spaces import members_page
from frontdesk.web.templating import flash, render

router = routing.router()


def _see_other(request: Request, url: str, message: str) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    flash(request, response, message)
    return response


# ---- the admins' side (members page) -------------------------------------------------------------


@router.post("/admin/invitations", include_in_schema=False)
async def invite(request: Request, space: CurrentSpace, admin: SpaceAdmin, st: State, uow: Work) -> Response:
    form = await checked_form(request)
    values = {
        "invite_email": form_str(form, "invite_email").strip(),
        "invite_role": form_str(form, "invite_role"),
    }
    wait = await st.throttle.consume(st.rules.invitation, space.id)
    if wait is not None:
        message: str = Text(
            N_("This space sent many invitations already. Try again in {wait}."), wait=wait_in_words(wait)
        )
        errors = {"invite_form": message}
        return await members_page(request, uow, space, errors, values, 429, {"Retry-After": str(wait)})
    try:
        sent = await invitations.invite(
            uow.session,
            st.server_secret,
            space,
            email=values["invite_email"],
            role=values["invite_role"] or "member",
            inviter=admin.user,
            origin=spaces.space_url(st.settings, space),  # its canonical host
            days=st.settings.invitation_days,
            ip=request.state.client_ip,
        )
    except FieldError as exc:
        errors = {f"invite_{exc.field}": exc.message}
        return await members_page(request, uow, space, errors, values, 422)
    return _see_other(
        request, "/admin/members", Text(N_("We sent an invitation to {email}."), email=sent.email)
    )


@router.post("/admin/invitations/{invitation_id}/revoke", include_in_schema=False)
async def revoke(
    request: Request, invitation_id: str, space: CurrentSpace, admin: SpaceAdmin, uow: Work
) -> Response:
    await checked_form(request)
    try:
        email = await invitations.revoke(
            uow.session, space, invitation_id, by=admin.user.id, ip=request.state.client_ip
        )
    except NotFound as exc:
        raise HTTPException(404, exc.message) from exc
    return _see_other(
        request, "/admin/members", Text(N_("The invitation to {email} was withdrawn."), email=email)
    )


# ---- the invited person's side -------------------------------------------------------------------


def _problem(request: Request, space: SpaceRef, state: InvitationState) -> Response:
    status = 410 if state.problem in (EXPIRED, invitations.USED, invitations.REVOKED) else 404
    return render(request, "invitation.html", {"space": space, "problem": state.problem}, status_code=status)


async def _page(
    request: Request,
    st: State,
    uow: Work,
    space: SpaceRef,
    token: str,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    state = await invitations.check(uow.session, st.server_secret, token, space)
    if state.invitation is None:
        return _problem(request, space, state)
    here = f"{invitations.PATH}?token={quote(token, safe='')}"
    context = {
        "space": space,
        "invitation": state.invitation,
        "account_exists": state.account_exists,
        "token": token,
        "login_url": f"/login?next={quote(here, safe='')}",
        "errors": errors or {},
        "values": values or {},
    }
    return render(request, "invitation.html", context, status_code=status_code)


@router.get("/invitation", include_in_schema=False)
async def show(
    request: Request, space: CurrentSpace, st: State, uow: Work, user: OptionalUser, token: str = ""
) -> Response:
    return await _page(request, st, uow, space, token)


def _joined(space: SpaceRef, outcome: Accepted) -> str:
    if outcome.already_member:
        return Text(N_("You are already a member of {space}; nothing changed."), space=space.name)
    role = Text(invitations.ROLE_WORDS[outcome.invitation.role])
    return Text(N_("Welcome to {space}: you joined as {role}."), space=space.name, role=role)


@router.post("/invitation/accept", include_in_schema=False)
async def accept(request: Request, space: CurrentSpace, st: State, uow: Work, user: OptionalUser) -> Response:
    form = await checked_form(request)
    token = form_str(form, "token")
    if user is None:
        return await _page(
            request, st, uow, space, token, {"form": N_("Log in first to accept.")}, status_code=401
        )
    outcome = await invitations.accept(
        uow.session, st.server_secret, token, space, user, ip=request.state.client_ip
    )
    if isinstance(outcome, InvitationState):
        return _problem(request, space, outcome)
    return _see_other(request, "/", _joined(space, outcome))


@router.post("/invitation/signup", include_in_schema=False)
async def sign_up(
    request: Request, space: CurrentSpace, st: State, uow: Work, user: OptionalUser
) -> Response:
    """Create an account for the invited address (verified: the link reached it), accept the
    invitation with it and log in. Limited like sign-up per client address."""
    form = await checked_form(request)
    token = form_str(form, "token")
    values = {"name": form_str(form, "name")}
    wait = await st.throttle.consume_for_address(st.rules.signup, request.state.client_ip)
    if wait is not None:
        message: str = Text(
            N_("Too many sign-ups from your address. Try again in {wait}."), wait=wait_in_words(wait)
        )
        return await _page(request, st, uow, space, token, {"form": message}, values, 429)
    try:
        person, outcome = await invitations.sign_up_and_accept(
            uow.session,
            st.passwords,
            st.server_secret,
            token,
            space,
            name=values["name"],
            password=form_str(form, "password"),
            ip=request.state.client_ip,
        )
    except FieldError as exc:
        errors: dict[str, str]
        if exc.field == "email":  # an account has the address: it logs in to accept
            errors = {
                "form": Text(N_("{problem} Log in to accept the invitation."), problem=Text(exc.message))
            }
        else:
            errors = {exc.field: exc.message}
        return await _page(request, st, uow, space, token, errors, values, 422)
    except HashingBusy:
        message = "The server is busy; try again in a moment."
        return await _page(request, st, uow, space, token, {"form": message}, values, 503)
    if person is None or isinstance(outcome, InvitationState):
        assert isinstance(outcome, InvitationState)
        return _problem(request, space, outcome)
    response = await log_in(request, st, uow, person.id, "/")
    flash(request, response, _joined(space, outcome))
    return response
