"""The admin API (``/api/admin/…``, docs/integrating.md "Admin API"): operator endpoints
authenticated by client_credentials tokens with administrative scopes (web/admin_auth.py)."""

from __future__ import annotations

from fastapi import APIRouter

from frontdesk.web.routes.api.admin import (
    apps,
    audit,
    invitations,
    memberships,
    spaces,
    tokens,
    users,
    webhooks,
)

ROUTERS: tuple[APIRouter, ...] = (
    users.router,
    spaces.router,
    memberships.router,
    invitations.router,
    apps.router,
    tokens.router,
    audit.router,
    webhooks.router,
)
