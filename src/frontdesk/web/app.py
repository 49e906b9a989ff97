"""The ASGI application factory."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

import frontdesk
from frontdesk import tracing
from frontdesk.email_worker import EmailWorker
from frontdesk.settings import Settings
from frontdesk.web import errors, openapi, templating
from frontdesk.web.cors import CorsMiddleware
from frontdesk.web.hosts import HostMiddleware
from frontdesk.web.https import HttpsMiddleware
from frontdesk.web.limits import RequestLimitsMiddleware
from frontdesk.web.metrics import MetricsMiddleware, Sampler
from frontdesk.web.middleware import SecurityHeadersMiddleware
from frontdesk.web.request_id import RequestIdMiddleware
from frontdesk.web.routes.api import access_tokens, health, navigation_links, user, userinfo
from frontdesk.web.routes.api import admin as admin_api
from frontdesk.web.routes.api import spaces as api_spaces
from frontdesk.web.routes.api import subscriptions as api_subscriptions
from frontdesk.web.routes.oauth import (
    authorize,
    introspection,
    jwks,
    logout,
    metadata,
    par,
    protected_resource,
    registration,
    revocation,
    token,
)
from frontdesk.web.routes.oauth import device as device_authorization
from frontdesk.web.routes.pages import (
    account,
    account_changes,
    account_sessions,
    api_docs,
    apps,
    auth,
    avatars,
    home,
    invitations,
    language,
    navigation,
    passkeys,
    recovery,
    second_factor,
    space_apps,
    spaces,
)
from frontdesk.web.routes.pages import device as device_pages
from frontdesk.web.routing import FastLane
from frontdesk.web.state import AppState
from frontdesk.webhook_worker import WebhookWorker

STATIC = Path(__file__).with_name("static")


# SCIM (web/routes/scim.py) loads scim2-server and its models, some 7 MiB per worker: imported
# on the first SCIM request, not by every worker at start (docs/performance.md, "Memory").
SCIM_PREFIX = "/scim/v2"


async def scim_application(scope: Scope, receive: Receive, send: Send) -> None:
    from frontdesk.web.routes import scim as scim_routes

    await scim_routes.application(scope, receive, send)


def create_app(settings: Settings | None = None, *, check_schema: bool = True) -> FastAPI:
    """The ASGI application (one per worker process)."""
    settings = settings or Settings()
    state = AppState.build(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if check_schema:
            await state.db.check_migrated_when_reachable()
        state.db.start_background()
        # The webhook outbox's sender (frontdesk/webhook_worker.py), one per worker process.
        worker = WebhookWorker(state.db, settings) if settings.webhooks_worker else None
        if worker is not None:
            worker.start()
        # The email outbox's sender (frontdesk/email_worker.py), one per worker process too.
        mailer = EmailWorker(state.db, settings) if settings.email_worker else None
        if mailer is not None:
            mailer.start()
        # Each worker's pool usage and cache tallies for /metrics (web/metrics.py).
        sampler = Sampler(state)
        sampler.start()
        yield
        await sampler.stop()
        if mailer is not None:
            await mailer.stop()
        if worker is not None:
            await worker.stop()
        await state.db.dispose()

    app = FastAPI(
        title="Frontdesk",
        version=frontdesk.__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=openapi.unique_id,
        # FastAPI's own OpenTelemetry (on by default since 0.142) would trace, meter and log
        # every request once a global provider exists, beside frontdesk/tracing.py, and asks
        # for the providers on every request even when none does. Tracing here has one path:
        # FRONTDESK_TRACING, whose spans are sanitized (docs/operations.md).
        telemetry={"tracing": False, "metrics": False, "logs": False},
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
    app.include_router(api_subscriptions.router)
    app.include_router(userinfo.router)
    app.include_router(revocation.router)
    app.include_router(introspection.router)
    app.include_router(device_authorization.router)
    app.include_router(par.router)
    app.include_router(metadata.router)
    app.include_router(protected_resource.router)
    app.include_router(jwks.router)
    app.include_router(logout.router)
    app.include_router(registration.router)
    app.include_router(home.router)
    app.include_router(auth.router)
    app.include_router(spaces.router)
    app.include_router(apps.router)
    app.include_router(account.router)
    app.include_router(account_sessions.router)
    app.include_router(recovery.router)
    app.include_router(second_factor.router)
    app.include_router(passkeys.router)
    app.include_router(account_changes.router)
    app.include_router(invitations.router)
    app.include_router(space_apps.router)
    app.include_router(navigation.router)
    app.include_router(api_docs.router)
    app.include_router(language.router)
    app.include_router(avatars.router)
    app.include_router(device_pages.router)
    for admin_router in admin_api.ROUTERS:
        app.include_router(admin_router)
    app.mount(SCIM_PREFIX, scim_application)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    errors.install(app)

    unknown_host_page, unknown_host_csp = templating.unknown_host_page(STATIC / "frontdesk.css")

    async def unknown_host(scope: Scope, receive: Receive, send: Send) -> None:
        response = HTMLResponse(
            unknown_host_page, status_code=404, headers={"Content-Security-Policy": unknown_host_csp}
        )
        await response(scope, receive, send)

    # Added innermost first: the fast lane to the hottest endpoints; HTTPS enforcement and CORS
    # run inside host resolution (they need the resolved scheme and site), and so do the
    # request limits (web/limits.py: sizes and NUL characters, refused before a handler reads
    # the request; inside CORS so browser apps can read the refusal); security headers wrap
    # everything.
    app.add_middleware(FastLane, routes=app.router.routes, handlers=app.exception_handlers)
    app.add_middleware(HttpsMiddleware, settings=settings)
    app.add_middleware(RequestLimitsMiddleware, settings=settings)
    app.add_middleware(CorsMiddleware)
    # /metrics on the main host and every request's time by route template (web/metrics.py):
    # inside host resolution (it needs the site), outside the HTTPS redirect (scrapers on an
    # internal network speak http).
    app.add_middleware(MetricsMiddleware, settings=settings, state=state, routes=app.router.routes)
    app.add_middleware(HostMiddleware, settings=settings, resolver=state.resolver, not_found=unknown_host)
    # A database outage anywhere inside is answered 503, not 500 (web/errors.py).
    app.add_middleware(errors.UnavailableMiddleware, unavailable=state.db.unavailable)
    app.add_middleware(SecurityHeadersMiddleware, settings=settings)
    _wrap_outermost(app, settings, state)
    return app


def _wrap_outermost(app: FastAPI, settings: Settings, state: AppState) -> None:
    """Around the whole stack, Starlette's own 500 answer included: the request id
    (web/request_id.py) and, when tracing is on, the OpenTelemetry server span (tracing.py)."""
    build = app.build_middleware_stack
    tracer_provider = tracing.provider() if tracing.enabled(settings) else None
    if tracer_provider is not None:
        tracing.instrument_engine(state.db.engine, tracer_provider)

    def build_middleware_stack() -> ASGIApp:
        stack = build()
        if tracer_provider is not None:
            stack = tracing.instrument_app(stack, tracer_provider)
        return RequestIdMiddleware(stack, settings=settings)

    app.build_middleware_stack = build_middleware_stack  # type: ignore[method-assign]


# The application a supervisor built before forking its workers (frontdesk/preload.py), with
# the id of the process that built it.
_built_before_fork: tuple[int, FastAPI] | None = None


def build_before_fork() -> None:
    """Build the application in a supervisor that is about to fork its workers: settings read,
    parts made, routes and middleware set up, but nothing started (no connection, task or
    thread: the lifespan above does that, in each worker; with tracing on, which would start a
    thread here, nothing is built). Each worker takes it with its one
    :func:`create_app_from_env` call and shares its pages with the others until it writes to
    them (docs/performance.md, "Memory")."""
    global _built_before_fork
    settings = Settings()
    if tracing.enabled(settings):
        # The OTLP exporter starts its batching thread when the application is built: with
        # tracing on, each worker builds its own, as without a supervisor.
        return
    _built_before_fork = (os.getpid(), create_app(settings))


def create_app_from_env() -> FastAPI:
    """Entry point for ``uvicorn --factory`` (used by ``frontdesk serve``): in a worker forked
    after :func:`build_before_fork`, that application (once); otherwise a new one."""
    global _built_before_fork
    if _built_before_fork is not None and _built_before_fork[0] != os.getpid():
        app = _built_before_fork[1]
        _built_before_fork = None
        return app
    return create_app()
