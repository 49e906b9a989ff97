"""Authorization server metadata (RFC 8414) and OpenID discovery on every host."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
