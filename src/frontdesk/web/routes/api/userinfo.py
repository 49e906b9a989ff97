"""OpenID Connect UserInfo: GET /api/userinfo (OIDC Core §5.3)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
