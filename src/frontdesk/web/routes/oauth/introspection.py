"""Token introspection, RFC 7662: POST /oauth/introspect."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
