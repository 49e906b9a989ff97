"""The front page of each host: the main site's dashboard, or a space's home."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from frontdesk.services import navigation, spaces
from frontdesk.web import routing
from frontdesk.web.deps import CurrentSite, OptionalUser, State, Work
from frontdesk.web.templating import render

router = routing.router()


@router.get("/", include_in_schema=False)
async def home(request: Request, site: CurrentSite, st: State, uow: Work, user: OptionalUser) -> Response:
    if site.space is None:
        mine = await spaces.spaces_of(uow.session, user.id) if user else []
        links = {s.space.id: spaces.space_url(st.settings, s.space) for s in mine}
        return render(request, "home.html", {"spaces": mine, "links": links})
    membership = await spaces.membership_of(uow.session, site.space.id, user.id) if user else None
    nav = (
        await navigation.links_for(uow.session, site.space.id, admin=membership.role == "admin")
        if membership
        else []
    )
    return render(request, "space_home.html", {"space": site.space, "membership": membership, "links": nav})
