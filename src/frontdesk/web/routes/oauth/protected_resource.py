"""Protected resource metadata (RFC 9728) on every host.

``GET /.well-known/oauth-protected-resource`` describes the host's API as a protected
resource: ``resource`` is the host's issuer URL, ``authorization_servers`` that same issuer
(each host is its own authorization server and resource; ../shared/reference/README.md
decision 15). Bearer challenges of the API point here (``resource_metadata``, §5.1).
"""

from __future__ import annotations

from fastapi import Request
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, Response

from frontdesk.oauth.metadata import public_scopes
from frontdesk.oauth.resource import METADATA_PATH, metadata
from frontdesk.web import routing
from frontdesk.web.hosts import Site

router = routing.router()
CACHE = {"Cache-Control": "public, max-age=300"}


class ProtectedResourceMetadata(BaseModel):
    """RFC 9728 §2."""

    resource: str = Field(description="This host's resource identifier: its issuer URL (an origin).")
    authorization_servers: list[str] = Field(description="The issuer that gives tokens for it: this host.")
    scopes_supported: list[str] = Field(description="Scopes a token for this host may carry.")
    bearer_methods_supported: list[str] = Field(
        description="How a token may be sent (RFC 6750 §2): header, body (form) and query."
    )


async def protected_resource(request: Request) -> Response:
    site: Site = request.state.site
    scopes = list(public_scopes(main_host=site.space is None))
    return JSONResponse(metadata(site.origin, scopes), headers=CACHE)


router.add_api_route(
    METADATA_PATH,
    protected_resource,
    methods=["GET", "HEAD"],
    summary="Protected resource metadata (RFC 9728)",
    response_model=ProtectedResourceMetadata,
    tags=["oauth"],
)
