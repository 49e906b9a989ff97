"""Token revocation, RFC 7009: POST /oauth/revoke."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
