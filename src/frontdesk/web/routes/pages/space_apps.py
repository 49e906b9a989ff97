"""Space admins: apps holding space tokens for their space."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
