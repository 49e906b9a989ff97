"""OpenID Connect UserInfo: GET and POST /api/userinfo (OIDC Core §5.3).

A bearer token with scope ``openid`` (else 403 ``insufficient_scope``) yields ``sub``, plus
``email``/``email_verified`` with scope ``email``, ``name`` (and ``locale`` when the account
has a language) with scope ``profile``, and ``space`` = ``{"id", "subdomain", "role"}`` when
the token was obtained on a space's host (its issuer is that space's origin) or is a space
token. The claims are those of the ID token, plus ``scope``: the token's scopes.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends
from starlette.responses import JSONResponse

from frontdesk.oauth.errors import InvalidToken
from frontdesk.oauth.oidc import claims_for
from frontdesk.oauth.scopes import format_scope
from frontdesk.web import routing
from frontdesk.web.api_auth import Caller, require
from frontdesk.web.deps import State, Work
from frontdesk.web.hosts import normalize_host
from frontdesk.web.state import AppState

router = routing.router(tags=["openid"])
OpenIdCaller = Annotated[Caller, Depends(require("openid"))]


async def issuer_space_id(st: AppState, issuer: str | None) -> str | None:
    """The space whose origin ``issuer`` is (None for the main host or an unknown host)."""
    if not issuer:
        return None
    site = await st.resolver.resolve(normalize_host(urlsplit(issuer).netloc))
    if site is None or site.space is None or site.origin != issuer:
        return None
    return site.space.id


@router.api_route("/api/userinfo", methods=["GET", "POST"], summary="Claims about the token's user")
async def userinfo(caller: OpenIdCaller, st: State, uow: Work) -> JSONResponse:
    token = caller.token
    space_id = token.space_id or await issuer_space_id(st, token.issuer)
    claims = await claims_for(uow.storage, caller.user.id, space_id, token.scopes)
    if claims is None:
        raise InvalidToken("the token's user no longer exists")
    # The token's scopes too (space-separated, as RFC 8693 §4.2 and RFC 9068 §2.2.3 write
    # them), those the platform's own API enforces among them (docs/integrating.md, "Scopes").
    claims["scope"] = format_scope(token.scopes)
    return JSONResponse(claims, headers={"Cache-Control": "no-store"})
