"""A person's browser sessions (the ``/account/sessions`` page, docs/guide.md "Accounts").

Each session is shown by its public id (``sessions.public_id``, never the cookie's secret nor
its digest), with a device name from its User-Agent header (ua-parser), the address the
server saw at login, a place for that address when ``FRONTDESK_GEOIP_DB`` names a MaxMind
database, when it was last used (written at most every ten minutes, web/sessions.py
``TOUCH_EVERY``) and whether it is this browser's.

Ending sessions goes through store/session_apps.py ``end_sessions`` (the apps the session
signed in to are told by back-channel logout); "sign out everywhere" may also revoke every
token the person's apps hold (services/grants.py ``revoke_tokens``).
"""

from __future__ import annotations

import functools
import importlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.i18n import N_, message
from frontdesk.security.server_secret import ServerSecret
from frontdesk.services import grants
from frontdesk.store.models import LoginSession
from frontdesk.store.session_apps import end_sessions
from frontdesk.store.types import utcnow

log = logging.getLogger("frontdesk.sessions")
UNKNOWN = N_("unknown")


@dataclass(frozen=True, slots=True)
class SessionView:
    public_id: str
    device: str
    address: str
    place: str
    host: str
    created_at: datetime
    last_seen_at: datetime
    current: bool


@functools.lru_cache(maxsize=512)
def device_label(user_agent: str) -> str:
    """A short name of the browser and system: "Chrome on Android", "Firefox on Ubuntu"."""
    if not user_agent:
        return N_("Unknown device")
    # ua-parser and its regexes load when a device is first named, not with every worker
    # (docs/performance.md, "Memory").
    import ua_parser

    result = ua_parser.parse(user_agent)
    browser = result.user_agent.family if result.user_agent else ""
    system = result.os.family if result.os else ""
    browser = "" if browser == "Other" else browser.removesuffix(" Mobile")
    system = "" if system == "Other" else system
    if browser and system:
        return message(N_("{browser} on {system}"), browser=browser, system=system)
    return browser or system or N_("Unknown device")


@functools.lru_cache(maxsize=4)
def _geoip_reader(path: str) -> Any:
    try:
        maxminddb = importlib.import_module("maxminddb")
        return maxminddb.open_database(path)
    except Exception:  # not installed or not readable: places stay unknown
        log.warning("FRONTDESK_GEOIP_DB=%s cannot be read (is the geoip extra installed?)", path)
        return None


def place_of(address: str, geoip_db: str) -> str:
    """The place of an address from the GeoIP database: "City, Country", the country, or "unknown"."""
    if not geoip_db or not address:
        return UNKNOWN
    reader = _geoip_reader(geoip_db)
    if reader is None:
        return UNKNOWN
    try:
        found = reader.get(address) or {}
    except ValueError:
        return UNKNOWN
    city = ((found.get("city") or {}).get("names") or {}).get("en", "")
    country = ((found.get("country") or {}).get("names") or {}).get("en", "")
    return ", ".join(part for part in (city, country) if part) or UNKNOWN


async def list_sessions(
    db: AsyncSession, user_id: str, *, current_id: str, geoip_db: str = ""
) -> list[SessionView]:
    """The person's live sessions, this browser's first, then the most recently used."""
    now = utcnow()
    rows = (
        await db.execute(
            select(LoginSession).where(
                LoginSession.user_id == user_id,
                LoginSession.revoked_at.is_(None),
                LoginSession.expires_at > now,
            )
        )
    ).scalars()
    views = [
        SessionView(
            public_id=row.public_id,
            device=device_label(row.user_agent or ""),
            address=row.ip or UNKNOWN,
            place=place_of(row.ip or "", geoip_db),
            host=row.host,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            current=row.id == current_id,
        )
        for row in rows
    ]
    views.sort(key=lambda v: (not v.current, -v.last_seen_at.timestamp()))
    return views


async def end_one(db: AsyncSession, server_secret: ServerSecret, user_id: str, public_id: str) -> bool:
    """End one of the person's sessions by its public id; False when there is no such live
    session of theirs."""
    condition = (LoginSession.user_id == user_id) & (LoginSession.public_id == public_id)
    return await end_sessions(db, server_secret, condition) > 0


async def end_others(db: AsyncSession, server_secret: ServerSecret, user_id: str, current_id: str) -> int:
    """End every session of the person but this browser's."""
    condition = (LoginSession.user_id == user_id) & (LoginSession.id != current_id)
    return await end_sessions(db, server_secret, condition)


async def end_all(
    db: AsyncSession, server_secret: ServerSecret, user_id: str, *, revoke_tokens: bool
) -> tuple[int, int]:
    """End every session of the person (this browser's too) and, when asked, revoke every
    token their apps hold; how many sessions ended and access tokens were revoked."""
    ended = await end_sessions(db, server_secret, LoginSession.user_id == user_id)
    revoked = 0
    if revoke_tokens:
        result = await grants.revoke_tokens(db, user_id=user_id, by="user")
        revoked = len(result.access_token_ids)
    return ended, revoked
