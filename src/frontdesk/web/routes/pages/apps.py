"""App registration pages: /oauth2_clients (list, new, show/edit, secrets)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
