"""Navigation links: pages apps add to a space, shown to its people in an iframe.

Every query goes through :class:`frontdesk.store.scoping.SpaceScope`; a link belongs to the
app that created it, and apps only ever see and delete their own links.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.errors import FieldError, NotFound
from frontdesk.oauth.redirect_uris import LOOPBACK_HOSTS
from frontdesk.records import NavigationLinkRecord
from frontdesk.security.randoms import new_id
from frontdesk.store.models import NavigationLink
from frontdesk.store.scoping import SpaceScope

ADMIN_SECTIONS = ("admin", "admin/setup", "admin/manage", "admin/analyze")
SECTIONS = (*ADMIN_SECTIONS, "members")


def is_admin_section(section: str) -> bool:
    return section in ADMIN_SECTIONS


def validate_iframe_url(raw: str) -> str:
    url = (raw or "").strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        raise FieldError("iframe_url", "iframe_url is not a valid URL") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FieldError("iframe_url", "iframe_url must be an absolute http(s) URL")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise FieldError("iframe_url", "iframe_url must use https (http only for localhost)")
    if parts.username or parts.password or len(url) > 2000:
        raise FieldError("iframe_url", "iframe_url must not contain credentials or exceed 2000 characters")
    return url


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
) -> NavigationLinkRecord:
    if section not in SECTIONS:
        raise FieldError("section", f"section must be one of {', '.join(SECTIONS)}")
    clean_label = " ".join((label or "").split())
    if not clean_label or len(clean_label) > 100:
        raise FieldError("label", "label must have 1 to 100 characters")
    link = NavigationLink(
        id=new_id(),
        space_id=space_id,
        app_id=app_id,
        created_by=user_id,
        section=section,
        label=clean_label,
        iframe_url=validate_iframe_url(iframe_url),
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
