"""Operations endpoints, answered on any host (load balancers often use an IP as Host).

* ``GET /healthz``: liveness (no I/O: the process answers).
* ``GET /readyz``: readiness (services/readiness.py: database, migrations, signing keys, Redis),
  200 or 503 with every check's answer; never cached, never rate limited.
* ``GET /healthz/domain?domain=…``: 200 when Frontdesk serves that host (the main host, a
  space's subdomain or a registered custom domain), else 404. A TLS proxy that obtains
  certificates on demand (Caddy's ``on_demand_tls ask``) uses it so it never requests
  certificates for hosts Frontdesk would refuse anyway.
"""

from __future__ import annotations

from fastapi import Request
from starlette.responses import JSONResponse

from frontdesk.services.readiness import ReadinessChecker
from frontdesk.web import routing
from frontdesk.web.hosts import normalize_host

router = routing.router()


@router.get("/healthz", tags=["operations"], summary="Liveness probe")
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@router.get(
    "/readyz",
    tags=["operations"],
    summary="Readiness probe",
    responses={503: {"description": "A check failed; its entry in checks says which"}},
)
async def readyz(request: Request) -> JSONResponse:
    state = request.app.state
    checker: ReadinessChecker | None = getattr(state, "readiness", None)
    if checker is None:
        checker = state.readiness = ReadinessChecker(state.frontdesk.db, state.frontdesk.settings)
    result = await checker.check()
    return JSONResponse(
        result.as_dict(),
        status_code=200 if result.ready else 503,
        headers={"Cache-Control": "no-store"},
    )


@router.get(
    "/healthz/domain",
    tags=["operations"],
    summary="Is this host served here?",
    responses={404: {"description": "Frontdesk does not serve this host"}},
)
async def domain(request: Request, domain: str = "") -> JSONResponse:
    site = await request.app.state.frontdesk.resolver.resolve(normalize_host(domain))
    if site is None:
        return JSONResponse({"served": False}, status_code=404)
    return JSONResponse({"served": True, "origin": site.origin})
