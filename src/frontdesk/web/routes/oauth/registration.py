"""Dynamic client registration, RFC 7591: POST /oauth/register."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
