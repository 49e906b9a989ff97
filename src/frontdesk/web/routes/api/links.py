"""Absolute API links, always built from configuration."""

from __future__ import annotations

from frontdesk.services.spaces import membership_api_url
from frontdesk.settings import Settings


def space_api_link(settings: Settings, subdomain: str) -> str:
    return f"{settings.public_url}/api/spaces/{subdomain}"


def membership_link(settings: Settings, subdomain: str, membership_id: str) -> str:
    return membership_api_url(settings, subdomain, membership_id)
