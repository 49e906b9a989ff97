"""A person's own account pages: authorized apps and their security activity."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
