"""Authorization server metadata (RFC 8414) and OpenID discovery on every host.

``GET /.well-known/oauth-authorization-server`` and ``GET /.well-known/openid-configuration``
answer the same document. The issuer is the serving host's canonical origin
(``request.state.site.origin``, built from configuration), so the main site, each space
subdomain and each custom domain describe themselves; an unknown host never gets this far.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import JSONResponse, Response

from frontdesk.oauth.metadata import (
    CLAIMS,
    OAUTH_METADATA_PATH,
    OPENID_METADATA_PATH,
    SPACE_CLAIMS,
    Capabilities,
    build_metadata,
    grant_types,
    public_scopes,
)
from frontdesk.web import routing
from frontdesk.web.adapter import get_state
from frontdesk.web.hosts import Site

router = routing.router()
CACHE = {"Cache-Control": "public, max-age=300"}


def capabilities(request: Request) -> Capabilities:
    st = get_state(request)
    oauth = st.oauth
    site: Site = request.state.site
    return Capabilities(
        grant_types=grant_types(oauth.token.grant_types, password_grant=oauth.config.password_grant_enabled),
        scopes=public_scopes(main_host=site.space is None),
        registration=st.settings.dynamic_registration,
        require_par=oauth.config.require_par,
        claims=CLAIMS + SPACE_CLAIMS if site.space is not None else CLAIMS,
    )


def document(request: Request) -> dict[str, Any]:
    site: Site = request.state.site
    return build_metadata(site.origin, capabilities(request))


async def metadata(request: Request) -> Response:
    return JSONResponse(document(request), headers=CACHE)


for _path, _summary in (
    (OAUTH_METADATA_PATH, "Authorization server metadata (RFC 8414)"),
    (OPENID_METADATA_PATH, "OpenID Provider configuration (OpenID Connect Discovery 1.0)"),
):
    router.add_api_route(_path, metadata, methods=["GET", "HEAD"], summary=_summary, tags=["oauth"])
