"""The JSON Web Key Set: GET /jwks.json (RFC 7517 §5).

The public halves of the keys that sign ID tokens: the current key and retired keys still
within their publication period. The main host and every space host share the keys and serve
the same set. The first request creates the first key when there is none.
"""

from __future__ import annotations

from starlette.responses import JSONResponse

from frontdesk.services import signing_keys
from frontdesk.web import routing
from frontdesk.web.deps import State, Work

router = routing.router(tags=["openid"])
# Short enough that a rotated-in key reaches relying parties soon; they refetch on an unknown
# kid anyway (OIDC Core §10.1.1).
CACHE = {"Cache-Control": "public, max-age=300"}


@router.get("/jwks.json", summary="The keys that sign ID tokens")
async def jwks(st: State, uow: Work) -> JSONResponse:
    published = await signing_keys.published_jwks(uow.storage, signing_keys.retention_for(st.settings))
    return JSONResponse({"keys": published}, headers=CACHE)
