"""The ASGI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

import frontdesk
from frontdesk.oauth.errors import OAuthError
from frontdesk.security.keyring import Keyring
from frontdesk.security.passwords import Passwords
from frontdesk.services import spaces as space_service
from frontdesk.services.throttle import Throttle, make_storage
from frontdesk.settings import Settings
from frontdesk.store.db import Database
from frontdesk.store.models import Space
from frontdesk.web import openapi
from frontdesk.web.api_auth import ApiError
from frontdesk.web.cors import CorsMiddleware
from frontdesk.web.csrf import Csrf
from frontdesk.web.deps import LoginRequired
from frontdesk.web.hosts import HostMiddleware, SiteResolver, SpaceRef
from frontdesk.web.https import HttpsMiddleware
from frontdesk.web.middleware import SecurityHeadersMiddleware
from frontdesk.web.oauth_glue import OAuthServer, bearer_error_response, token_error_response
from frontdesk.web.routes.api import access_tokens, health, navigation_links, user, userinfo
from frontdesk.web.routes.api import spaces as api_spaces
from frontdesk.web.routes.oauth import (
    authorize,
    introspection,
    jwks,
    metadata,
    registration,
    revocation,
    token,
)
from frontdesk.web.routes.pages import account, api_docs, apps, auth, home, navigation, space_apps, spaces
from frontdesk.web.sessions import SessionStore
from frontdesk.web.state import AppState, LoginRules
from frontdesk.web.templating import render

STATIC = Path(__file__).with_name("static")


def build_state(settings: Settings) -> AppState:
    keyring = Keyring(settings.resolve_secret_key())
    db = Database(settings)

    def ref(space: Space | None) -> SpaceRef | None:
        if space is None:
            return None
        return SpaceRef(
            id=space.id, subdomain=space.subdomain, name=space.name, custom_domain=space.custom_domain
        )

    async def by_subdomain(label: str) -> SpaceRef | None:
        async with db.session() as session:
            return ref(await space_service.get_by_subdomain(session, label))

    async def by_domain(host: str) -> SpaceRef | None:
        async with db.session() as session:
            return ref(await space_service.get_by_custom_domain(session, host))

    sessions = SessionStore(settings, keyring)
    throttle = Throttle(make_storage(settings.redis_url))
    return AppState(
        settings=settings,
        keyring=keyring,
        db=db,
        passwords=Passwords(
            time_cost=settings.argon2_time_cost,
            memory_kib=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            concurrency=settings.hash_concurrency,
            queue_limit=settings.hash_queue_limit,
            nice=settings.hash_nice,
        ),
        throttle=throttle,
        resolver=SiteResolver(settings, by_subdomain, by_domain),
        login_rules=LoginRules.from_settings(settings),
        sessions=sessions,
        csrf=Csrf(settings, keyring, sessions),
        oauth=OAuthServer.from_settings(settings, throttle),
    )


def _wants_json(request: Request) -> bool:
    path = request.url.path
    if path == "/oauth/authorize":  # a page for people
        return False
    return path.startswith(("/api/", "/oauth/", "/.well-known/")) or "application/json" in (
        request.headers.get("accept") or ""
    )


def create_app(settings: Settings | None = None, *, check_schema: bool = True) -> FastAPI:
    settings = settings or Settings()
    state = build_state(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if check_schema:
            await state.db.check_migrated()
        state.db.start_background()
        yield
        await state.db.dispose()

    app = FastAPI(
        title="Frontdesk",
        version=frontdesk.__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=openapi.unique_id,
    )
    openapi.install(app)
    app.state.frontdesk = state

    # Hot API and protocol routes first: routing tries routes in order.
    app.include_router(health.router)
    app.include_router(user.router)
    app.include_router(token.router)
    app.include_router(authorize.router)
    app.include_router(access_tokens.router)
    app.include_router(api_spaces.router)
    app.include_router(navigation_links.router)
    app.include_router(userinfo.router)
    app.include_router(revocation.router)
    app.include_router(introspection.router)
    app.include_router(metadata.router)
    app.include_router(jwks.router)
    app.include_router(registration.router)
    app.include_router(home.router)
    app.include_router(auth.router)
    app.include_router(spaces.router)
    app.include_router(apps.router)
    app.include_router(account.router)
    app.include_router(space_apps.router)
    app.include_router(navigation.router)
    app.include_router(api_docs.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(exc.next_url, status_code=303)

    @app.exception_handler(StarletteHTTPException)  # also the router's own 404 and 405
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _wants_json(request):
            codes = {404: "not_found", 405: "method_not_allowed", 403: "forbidden", 413: "invalid_request"}
            body = {
                "error": codes.get(exc.status_code, "invalid_request"),
                "error_description": str(exc.detail),
            }
            return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)
        titles = {403: "Not allowed", 404: "Not found", 405: "Method not allowed"}
        message = exc.detail if isinstance(exc.detail, str) else ""
        if exc.status_code == 404 and message == "Not Found":
            message = "There is no page at this address."
        return render(
            request,
            "error.html",
            {"title": titles.get(exc.status_code, "Error"), "message": message},
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(OAuthError)
    async def _oauth_error(request: Request, exc: OAuthError) -> Response:
        if request.url.path.startswith("/oauth/"):
            return token_error_response(exc)
        return bearer_error_response(exc, realm=request.state.site.origin)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return JSONResponse(
            {"error": exc.error, "error_description": exc.description},
            status_code=exc.status_code,
            headers={"Cache-Control": "no-store"},
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if _wants_json(request):
            return JSONResponse(
                {"error": "invalid_request", "error_description": str(exc.errors()[:1])}, status_code=400
            )
        return render(
            request,
            "error.html",
            {"title": "Bad request", "message": "The request was malformed."},
            status_code=400,
        )

    async def unknown_host(scope: Scope, receive: Receive, send: Send) -> None:
        response = HTMLResponse(
            "<!doctype html><title>Unknown host</title><h1>Unknown host</h1>"
            "<p>No site is served at this address.</p>",
            status_code=404,
        )
        await response(scope, receive, send)

    # Added innermost first: HTTPS enforcement and CORS run inside host resolution (they need
    # the resolved scheme and site); security headers wrap everything.
    app.add_middleware(HttpsMiddleware, settings=settings)
    app.add_middleware(CorsMiddleware)
    app.add_middleware(HostMiddleware, settings=settings, resolver=state.resolver, not_found=unknown_host)
    app.add_middleware(SecurityHeadersMiddleware, settings=settings)
    return app


def create_app_from_env() -> FastAPI:
    """Entry point for ``uvicorn --factory`` (used by ``frontdesk serve``)."""
    return create_app()
