"""The JSON Web Key Set: GET /jwks.json (RFC 7517)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
