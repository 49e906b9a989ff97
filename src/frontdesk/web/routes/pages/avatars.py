"""``GET /avatars/<user id>.svg``: the picture ``/api/user`` and membership records report for a
person the platform gave no picture (docs/compatibility.md, "Pictures").

Cobot apps read ``picture`` and show it (omniauth_cobot puts it in ``info.picture``), so it is a
URL that always resolves: a generated image with the person's initials on a colour derived from
their id. Nothing a person typed reaches the SVG except letters and digits (the initials, which
are escaped as well), so a name cannot inject markup or script into it. Public like Cobot's
``/api/users/<id>/picture``, cacheable for a day, with an ETag.
"""

from __future__ import annotations

import hashlib
import re
from xml.sax.saxutils import escape

from fastapi import Request
from starlette.responses import Response

from frontdesk.oauth.models import Person
from frontdesk.settings import Settings
from frontdesk.web import routing
from frontdesk.web.deps import Work

router = routing.router()

AVATAR_PATH = "/avatars/{user_id}.svg"
# Ids are the random hex strings of security/randoms.new_id (32 characters at most, ID column).
_USER_ID = re.compile(r"[0-9a-zA-Z_-]{1,32}")
MAX_AGE = 86400
# The SVG shows no active content and loads nothing, even when opened as a document.
AVATAR_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


def picture_url(settings: Settings, person: Person) -> str:
    """The picture of ``person``: the one the platform set, else the generated avatar. Built from
    the person already loaded (no query: ``/api/user`` is the hot path)."""
    return person.picture_url or f"{settings.public_url}/avatars/{person.id}.svg"


def initials(name: str) -> str:
    """The first letter or digit of the first and of the last word of ``name``, upper-cased
    (``?`` when there is none)."""
    firsts = [next((c for c in word if c.isalnum()), "") for word in name.split()]
    letters = [c for c in firsts if c]
    picked = letters[:1] + letters[1:][-1:]
    text = "".join(c.upper()[:1] for c in picked)
    return text or "?"


def avatar_svg(person: Person) -> bytes:
    hue = int.from_bytes(hashlib.sha256(person.id.encode()).digest()[:2], "big") % 360
    text = escape(initials(person.name))
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128" viewBox="0 0 128 128">'
        f'<rect width="128" height="128" fill="hsl({hue},45%,40%)"/>'
        '<text x="64" y="64" dy="0.35em" text-anchor="middle" fill="#ffffff" '
        f'font-family="Helvetica, Arial, sans-serif" font-size="52">{text}</text></svg>'
    ).encode()


@router.get(AVATAR_PATH, include_in_schema=False)
async def avatar(user_id: str, request: Request, uow: Work) -> Response:
    person = await uow.storage.person(user_id) if _USER_ID.fullmatch(user_id) else None
    if person is None:
        return Response("No such picture.\n", status_code=404, media_type="text/plain")
    body = avatar_svg(person)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {
        "Cache-Control": f"public, max-age={MAX_AGE}",
        "ETag": etag,
        "Content-Security-Policy": AVATAR_CSP,
    }
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="image/svg+xml", headers=headers)
