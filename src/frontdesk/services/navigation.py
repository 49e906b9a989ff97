"""Navigation links: pages apps add to a space, shown to its people in an iframe.

Every query goes through :class:`frontdesk.store.scoping.SpaceScope`; a link belongs to the
app that created it, and apps only ever see and delete their own links.
"""

from __future__ import annotations

from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk import names
from frontdesk.errors import FieldError, NotFound
from frontdesk.i18n import N_
from frontdesk.oauth.web_urls import WebUrlError, normalize_web_url, origin_of
from frontdesk.records import NavigationLinkRecord
from frontdesk.security.randoms import new_id
from frontdesk.store.models import NavigationLink
from frontdesk.store.scoping import SpaceScope

ADMIN_SECTIONS = ("admin", "admin/setup", "admin/manage", "admin/analyze")
SECTIONS = (*ADMIN_SECTIONS, "members")


def is_admin_section(section: str) -> bool:
    return section in ADMIN_SECTIONS


def validate_iframe_url(raw: str, *, development: bool = False) -> str:
    """An https URL (plain http for localhost in development only), stored with its host in
    IDNA form; the page's CSP is built from its parsed origin (oauth/web_urls.py)."""
    try:
        return normalize_web_url(raw, allow_loopback_http=development)
    except WebUrlError as exc:
        raise FieldError("iframe_url", N_("iframe_url: {problem}"), problem=str(exc)) from exc


def frame_origin(iframe_url: str) -> str | None:
    """The origin a ``frame-src`` may name for this link; None for a stored URL that has none
    (rows from before the checks above): such a link is not framed."""
    return origin_of(iframe_url)


async def create_link(
    db: AsyncSession,
    *,
    space_id: str,
    app_id: str,
    user_id: str | None,
    section: str,
    label: str,
    iframe_url: str,
    user_editable: bool = True,
    development: bool = False,
) -> NavigationLinkRecord:
    if section not in SECTIONS:
        raise FieldError("section", N_("section must be one of {sections}"), sections=", ".join(SECTIONS))
    try:
        clean_label = names.clean_name(label)
    except names.UnsafeName as exc:
        raise FieldError("label", str(exc)) from exc
    if not clean_label or len(clean_label) > 100:
        raise FieldError("label", N_("label must have 1 to 100 characters"))
    link = NavigationLink(
        id=new_id(),
        space_id=space_id,
        app_id=app_id,
        created_by=user_id,
        section=section,
        label=clean_label,
        iframe_url=validate_iframe_url(iframe_url, development=development),
        user_editable=user_editable,
    )
    db.add(link)
    await db.flush()
    return _record(link)


def _record(link: NavigationLink) -> NavigationLinkRecord:
    return NavigationLinkRecord(
        id=link.id,
        space_id=link.space_id,
        app_id=link.app_id,
        section=link.section,
        label=link.label,
        iframe_url=link.iframe_url,
        user_editable=link.user_editable,
        created_by=link.created_by,
    )


async def links_of_app(db: AsyncSession, space_id: str, app_id: str) -> list[NavigationLinkRecord]:
    stmt = SpaceScope(space_id).select(NavigationLink).where(NavigationLink.app_id == app_id)
    return [_record(link) for link in (await db.execute(stmt.order_by(NavigationLink.created_at))).scalars()]


async def links_for(db: AsyncSession, space_id: str, *, admin: bool) -> list[NavigationLinkRecord]:
    """The links a person with this role sees in the space's navigation."""
    stmt = SpaceScope(space_id).select(NavigationLink)
    if not admin:
        stmt = stmt.where(NavigationLink.section == "members")
    rows = (await db.execute(stmt.order_by(NavigationLink.section, NavigationLink.label))).scalars()
    return [_record(link) for link in rows]


async def _row(db: AsyncSession, space_id: str, link_id: str) -> NavigationLink:
    stmt = SpaceScope(space_id).select(NavigationLink).where(NavigationLink.id == link_id)
    link = (await db.execute(stmt)).scalar_one_or_none()
    if link is None:
        raise NotFound("no such navigation link in this space")
    return link


async def get_link(db: AsyncSession, space_id: str, link_id: str) -> NavigationLinkRecord:
    return _record(await _row(db, space_id, link_id))


async def delete_link(db: AsyncSession, space_id: str, app_id: str, link_id: str) -> None:
    link = await _row(db, space_id, link_id)
    if link.app_id != app_id:
        raise NotFound("no such navigation link of this app")
    await db.delete(link)
    await db.flush()


def frame_url(iframe_url: str, params: dict[str, str]) -> str:
    """``iframe_url`` with the context parameters added to its query (before any fragment)."""
    base, hash_sign, fragment = iframe_url.partition("#")
    sep = "&" if "?" in base else "?"
    return base + sep + urlencode(params) + hash_sign + fragment
