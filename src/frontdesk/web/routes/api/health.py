"""Liveness probe, answered on any host (load balancers often use an IP as Host)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import JSONResponse

router = APIRouter()


@router.get("/healthz", tags=["operations"], summary="Liveness probe")
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"})
