"""A small "bookings" API protected by ``frontdesk.client``'s resource-server helper.

``GET /bookings`` lists the caller's bookings (scope ``read_bookings``); ``POST /bookings``
adds one (``write_bookings``); ``GET /spaces/<subdomain>/bookings`` lists a space's bookings
(``read_bookings``; a space token only for its own space). Tokens are checked by
introspection (opaque tokens) or, for apps with JWT access tokens, with the issuer's keys.
Its metadata (RFC 9728) is at ``/.well-known/oauth-protected-resource`` and every refusal
names it in its ``WWW-Authenticate`` challenge.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from frontdesk.client.adapters.starlette import requires_token
from frontdesk.client.resource_server import METADATA_PATH, AsyncResourceServer, Principal


@dataclass(frozen=True)
class Settings:
    """From the environment: ``FRONTDESK_ISSUER`` (the platform), ``BOOKINGS_RESOURCE`` (this
    API's own URL, also listed in Frontdesk's ``FRONTDESK_EXTRA_RESOURCES``), and the API's
    Frontdesk app (``BOOKINGS_CLIENT_ID``/``BOOKINGS_CLIENT_SECRET``, registered with
    ``--can-introspect``)."""

    issuer: str
    resource: str
    client_id: str
    client_secret: str
    # Extra issuers whose tokens count (space hosts), comma-separated in BOOKINGS_ISSUERS.
    issuers: tuple[str, ...] = ()
    cache_ttl: float = 30.0

    @classmethod
    def from_env(cls) -> Settings:
        extra = tuple(i.strip() for i in os.environ.get("BOOKINGS_ISSUERS", "").split(",") if i.strip())
        issuer = os.environ["FRONTDESK_ISSUER"]
        return cls(
            issuer=issuer,
            resource=os.environ["BOOKINGS_RESOURCE"],
            client_id=os.environ["BOOKINGS_CLIENT_ID"],
            client_secret=os.environ["BOOKINGS_CLIENT_SECRET"],
            issuers=(issuer, *extra) if extra else (),
        )


@dataclass
class Store:
    """Bookings in memory (use your database)."""

    items: list[dict[str, Any]] = field(default_factory=list)

    def add(self, **values: Any) -> dict[str, Any]:
        booking = {"id": str(len(self.items) + 1), **values}
        self.items.append(booking)
        return booking


def create_app(settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None) -> Starlette:
    rs = AsyncResourceServer(
        issuer=settings.issuer,
        issuers=settings.issuers,
        resource=settings.resource,
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        cache_ttl=settings.cache_ttl,
        resource_metadata=settings.resource + METADATA_PATH,
        transport=transport,
    )
    store = Store()

    async def metadata(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "resource": settings.resource,
                "authorization_servers": [settings.issuer],
                "scopes_supported": ["read_bookings", "write_bookings"],
                "bearer_methods_supported": ["header", "body", "query"],
            }
        )

    @requires_token(rs, "read_bookings")
    async def my_bookings(request: Request) -> JSONResponse:
        principal: Principal = request.state.principal
        return JSONResponse({"bookings": [b for b in store.items if b["user"] == principal.subject]})

    @requires_token(rs, "write_bookings")
    async def add_booking(request: Request) -> JSONResponse:
        principal: Principal = request.state.principal
        body = await request.json()
        if not isinstance(body, dict) or not isinstance(body.get("resource"), str):
            return JSONResponse({"error": "invalid_request", "error_description": "name a resource"}, 400)
        booking = store.add(user=principal.subject, space=body.get("space"), resource=body["resource"][:100])
        return JSONResponse(booking, status_code=201)

    @requires_token(rs, "read_bookings", space_param="space")
    async def space_bookings(request: Request) -> JSONResponse:
        space = request.path_params["space"]
        # A space token is already checked to be this space's; for a user token check here
        # that the person belongs to the space (your data, or Frontdesk's API).
        return JSONResponse({"bookings": [b for b in store.items if b["space"] == space]})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await rs.aclose()

    return Starlette(
        routes=[
            Route(METADATA_PATH, metadata),
            Route("/bookings", my_bookings, methods=["GET"]),
            Route("/bookings", add_booking, methods=["POST"]),
            Route("/spaces/{space}/bookings", space_bookings),
        ],
        lifespan=lifespan,
    )
