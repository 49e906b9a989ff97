"""``/navigation/<id>`` on a space's host: the space's page with an app in an iframe.

The iframe URL gets the context parameters Cobot sends (``cobot_embed``, ``cobot_subdomain``,
``cobot_user_id``, ``cobot_locale``) and, beyond Cobot, ``frontdesk_context``: a short-lived
JWT signed by this space's issuer, so the app can trust who is looking.
"""

from __future__ import annotations

from fastapi import HTTPException, Request
from starlette.responses import Response

from frontdesk.errors import NotFound
from frontdesk.i18n import N_
from frontdesk.services import navigation
from frontdesk.services.iframe_context import signed_context
from frontdesk.services.spaces import membership_of
from frontdesk.web import routing
from frontdesk.web.deps import CurrentSpace, CurrentUser, State, Work
from frontdesk.web.middleware import PAGE_CSP
from frontdesk.web.templating import locale_of, render

router = routing.router()


@router.get("/navigation/{link_id}", include_in_schema=False)
async def show(
    link_id: str, request: Request, space: CurrentSpace, user: CurrentUser, st: State, uow: Work
) -> Response:
    membership = await membership_of(uow.session, space.id, user.id)
    try:
        link = await navigation.get_link(uow.session, space.id, link_id)
    except NotFound as exc:
        raise HTTPException(404, N_("This page does not exist in this space.")) from exc
    if membership is None or (navigation.is_admin_section(link.section) and membership.role != "admin"):
        raise HTTPException(
            403,
            N_("This page is for the space's admins.") if membership else N_("Only members can open this."),
        )
    params = {
        "cobot_embed": "true",
        "cobot_subdomain": space.subdomain,
        "cobot_user_id": user.id,
        # The person's language (web/templating.locale_of), as Cobot sends its own.
        "cobot_locale": locale_of(request).split("_")[0],
    }
    params["frontdesk_context"] = await signed_context(
        uow.storage,
        issuer=request.state.site.origin,
        link=link,
        space=space,
        user=user,
        role=membership.role,
    )
    # The CSP source is the parsed origin only: a stored URL never writes the policy.
    frame_origin = navigation.frame_origin(link.iframe_url)
    if frame_origin is None:
        raise HTTPException(
            404, N_("This app page's address is not a valid https URL; the app has to add the link again.")
        )
    src = navigation.frame_url(link.iframe_url, params)
    links = await navigation.links_for(uow.session, space.id, admin=membership.role == "admin")
    return render(
        request,
        "space_frame.html",
        {"space": space, "link": link, "src": src, "links": links, "membership": membership},
        headers={"Content-Security-Policy": f"{PAGE_CSP}; frame-src 'self' {frame_origin}"},
    )
