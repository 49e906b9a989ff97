"""Space App: an app for a Frontdesk platform that installs into spaces and runs in their iframe.

Everything OAuth and API goes through ``frontdesk.client``. Routes:

==========================  =====================================================================
``GET  /``                  log in; the spaces you administer, each with an install button
``GET  /login``             the web flow on the main host (PKCE, state, nonce)
``POST /logout``
``POST /install/<space>``   in-space OAuth on the space's host → space token → navigation link
``GET  /auth/callback``     the one redirect URI: finishes login, install and in-frame sign-in
``GET  /embed``             the page in the space's iframe: trusts only the signed context
``GET  /embed/signin``      in-space OAuth *inside* the iframe (``&on=page``: on the whole page)
==========================  =====================================================================
"""

from __future__ import annotations

import contextlib
import hmac
import time
from collections.abc import AsyncIterator, Sequence
from urllib.parse import urlsplit

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from frontdesk.client import (
    AccessDenied,
    AdminRole,
    AsyncClient,
    CallbackError,
    ConfigurationError,
    ContextError,
    Forbidden,
    FrontdeskError,
    IframeContext,
    InvalidToken,
    IssuerMismatch,
    NavigationLinkSpec,
    NotFound,
    OAuthError,
    Token,
    TokenValidationError,
)

from .config import FRAME_SCOPE, SCOPE, Settings
from .pages import esc, page, post_button, redirect, rows
from .state import Flow, Flows, Installation, Installations, Session, Sessions
from .transport import LocalhostTransport

ISSUER_CACHE_SECONDS = 300
LOGIN_PAGE = """<h1>Space App</h1>
<p>An example app for Frontdesk spaces: admins install it into their spaces, and every member
finds it in the space's navigation.</p>
<p><a class="button" href="/login">Log in with Frontdesk</a></p>"""


class Refused(Exception):
    """The iframe request cannot be trusted; ``frame_ancestors`` may show the refusal."""

    def __init__(self, reason: str, frame_ancestors: Sequence[str]) -> None:
        super().__init__(reason)
        self.frame_ancestors = tuple(frame_ancestors)


class SpaceApp:
    """The app's state and its request handlers."""

    def __init__(self, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self.oauth = AsyncClient(
            settings.client_id,
            settings.client_secret,
            issuer=settings.frontdesk_url,
            redirect_uri=settings.redirect_uri,
            transport=transport or LocalhostTransport(),
        )
        self.sessions = Sessions(settings.secret, secure=settings.https)
        self.flows = Flows()
        self.installations = Installations(settings.data_dir)
        # Tokens of people who signed in inside the frame, by their Frontdesk user id (memory only).
        self.frame_tokens: dict[str, Token] = {}
        self._issuers: dict[str, tuple[float, tuple[str, ...]]] = {}

    def routes(self) -> list[Route]:
        return [
            Route("/", self.home),
            Route("/login", self.login),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/install/{subdomain}", self.install, methods=["POST"]),
            Route("/auth/callback", self.callback),
            Route("/embed", self.embed),
            Route("/embed/signin", self.embed_signin),
        ]

    # ---- the app's own pages (top level, first-party cookie) ----------------------------------

    async def home(self, request: Request) -> Response:
        session = self.sessions.get(request)
        if session is None or session.token is None:
            return page("Space App", LOGIN_PAGE)
        try:
            user = await self.oauth.api(session.token).get_user()
        except InvalidToken:  # revoked on Frontdesk (e.g. under "Authorized apps"): log in again
            response = redirect("/")
            self.sessions.end(session, response)
            return response
        spaces = "".join(self._space_item(role, session.csrf) for role in user.admin_of)
        body = (
            f"<h1>Space App</h1><p>Logged in as <strong>{esc(user.name)}</strong> ({esc(user.email)}),"
            f" Frontdesk user <code>{esc(session.user_id)}</code> (the ID token's <code>sub</code>)."
            f" {post_button('/logout', 'Log out', session.csrf)}</p>"
            f"<h2>Spaces you administer</h2><ul>{spaces or '<li>None.</li>'}</ul>"
        )
        return page("Space App", body)

    def _space_item(self, role: AdminRole, csrf: str) -> str:
        action = f"/install/{role.space_subdomain}"
        installed = self.installations.get(role.space_subdomain)
        if installed is None:
            button = post_button(action, f"Install into {role.space_name}", csrf)
            return f"<li>{esc(role.space_name)} {button}</li>"
        return (
            f"<li>{esc(role.space_name)}: Installed — <a href='{esc(installed.link_url)}'>open Space App"
            f" in {esc(role.space_name)}</a> {post_button(action, 'Install again', csrf)}</li>"
        )

    async def login(self, request: Request) -> Response:
        pending = await self.oauth.start_authorization(SCOPE)  # the main host: PKCE, state, nonce
        response = redirect(pending.url)
        session = self.sessions.get(request) or self.sessions.start(response)
        self.flows.add(Flow("login", pending, session_id=session.id))
        return response

    async def _posted_session(self, request: Request) -> Session | None:
        """The session of a POST whose anti-forgery token matches, else None."""
        session = self.sessions.get(request)
        sent = (await request.form()).get("csrf_token")
        if session is None or not isinstance(sent, str) or not hmac.compare_digest(sent, session.csrf):
            return None
        return session

    async def logout(self, request: Request) -> Response:
        response = redirect("/")
        session = await self._posted_session(request)
        if session is not None:
            if session.token is not None:
                await self.oauth.revoke(session.token)
            self.sessions.end(session, response)
        return response

    async def install(self, request: Request) -> Response:
        session = await self._posted_session(request)
        if session is None or session.token is None:
            return page("Log in first", "<p>Log in first. <a href='/'>Back</a></p>", status=403)
        subdomain = request.path_params["subdomain"]
        user = await self.oauth.api(session.token).get_user()
        if not user.is_admin_of(subdomain):
            return page("Admins only", "<p>Only a space's admins can install apps there.</p>", status=403)
        # In-space OAuth: authorize on the space's own host (its custom domain when it has one).
        issuer = await self.oauth.resolve_space_issuer(subdomain)
        pending = await self.oauth.start_authorization(SCOPE, issuer=issuer)
        self.flows.add(Flow("install", pending, session_id=session.id, user_id=user.id, subdomain=subdomain))
        return redirect(pending.url)

    # ---- the redirect URI ---------------------------------------------------------------------

    async def callback(self, request: Request) -> Response:
        flow = self.flows.get(request.query_params.get("state", ""))
        if flow is None:
            body = "<p>No sign-in is waiting for this answer (or it took too long). Please start again.</p>"
            return page("Nothing to finish", body, status=400, frame_ancestors=self.any_space())
        session = self.sessions.get(request)
        if flow.session_id is not None and (session is None or session.id != flow.session_id):
            body = "<p>This sign-in was started in another browser. Please start again.</p>"
            return page("Another browser", body, status=400)
        self.flows.take(flow.pending.state)
        try:
            token = await self.oauth.finish_authorization(flow.pending, request.url.query)
        except AccessDenied:
            body = f"<p>You did not allow Space App; nothing changed. <a href='{esc(flow.back)}'>Back</a></p>"
            return page("Not allowed", body, frame_ancestors=flow.frame_ancestors)
        except (CallbackError, IssuerMismatch, TokenValidationError, OAuthError) as exc:
            body = (
                f"<p class='error'>Sign-in failed: {esc(exc)}</p><p><a href='{esc(flow.back)}'>Back</a></p>"
            )
            return page("Sign-in failed", body, status=400, frame_ancestors=flow.frame_ancestors)
        if flow.kind == "login" and session is not None:
            return self.finish_login(session, token)
        if flow.kind == "install":
            return await self.finish_install(flow, token)
        return await self.finish_frame(flow, token)

    def finish_login(self, session: Session, token: Token) -> Response:
        session.user_id = str((token.id_token_claims or {}).get("sub", ""))
        session.token = token
        return redirect("/")

    async def finish_install(self, flow: Flow, token: Token) -> Response:
        subdomain = flow.subdomain or ""
        if (token.id_token_claims or {}).get("sub") != flow.user_id:
            await self.oauth.revoke(token)
            host = urlsplit(flow.pending.issuer).netloc
            body = (
                f"<p class='error'>You approved on {esc(host)} as someone else than you are logged in as"
                f" here. Log in there as yourself and install again.</p><p><a href='/'>Back</a></p>"
            )
            return page("Another person", body, status=403)
        try:
            space_token = await self.oauth.space_token(token, subdomain)
        except Forbidden:
            return page("Admins only", "<p>Only a space's admins can install apps there.</p>", status=403)
        finally:
            await self.oauth.revoke(token)  # Cobot's install pattern: keep only the space token
        space_api = self.oauth.api(space_token)
        spec = NavigationLinkSpec("members", "Space App", self.settings.embed_url)
        (link,) = await space_api.install_navigation_links(subdomain, [spec])  # idempotent
        space = await space_api.get_space(subdomain)
        installation = Installation(
            subdomain=subdomain,
            space_id=space_token.space_id or space.id,
            space_name=space.name,
            space_url=space.url,
            token=space_token.to_dict(),
            link_id=link.id,
            link_url=link.user_url,
            installed_by=flow.user_id or "",
            installed_at=time.time(),
        )
        self.installations.save(installation)
        body = (
            f"<h1>Installed</h1><p>Space App is installed in"
            f" <a href='{esc(space.url)}'>{esc(space.name)}</a>. Its members find it in the space's"
            f" navigation: <a href='{esc(link.user_url)}'>Space App</a>.</p><p><a href='/'>Back</a></p>"
        )
        return page("Installed", body)

    async def finish_frame(self, flow: Flow, token: Token) -> Response:
        claims = token.id_token_claims or {}
        if claims.get("sub") != flow.user_id:
            await self.oauth.revoke(token)
            body = (
                "<p class='error'>You signed in as someone else than the person this space says is looking."
                f" Nothing was kept.</p><p><a href='{esc(flow.back)}'>Back</a></p>"
            )
            return page("Someone else", body, status=403, frame_ancestors=flow.frame_ancestors)
        self.frame_tokens[claims["sub"]] = token  # to act for this person later (by their user id)
        if flow.kind == "page":
            return redirect(flow.back)  # back to the space's page, which frames the app again
        body = (
            f"<h1>Signed in inside the frame as {esc(claims.get('email', claims['sub']))}</h1>"
            f"<p><a href='{esc(flow.back)}'>Back to Space App</a></p>"
        )
        return page("Signed in", body, frame_ancestors=flow.frame_ancestors)

    # ---- inside the space's iframe: no cookies, only the signed context -----------------------

    def any_space(self) -> tuple[str, ...]:
        """``frame-ancestors`` for a framed page whose space is unknown: every space subdomain."""
        return (self.oauth.issuer_for_space("x").replace("://x.", "://*.", 1),)

    async def space_issuers(self, subdomain: str) -> tuple[str, ...]:
        """The hosts a space's pages are served on: its subdomain and its custom domain, if any."""
        cached = self._issuers.get(subdomain)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        issuers = (self.oauth.issuer_for_space(subdomain), await self.oauth.resolve_space_issuer(subdomain))
        unique = tuple(dict.fromkeys(issuers))
        self._issuers[subdomain] = (time.monotonic() + ISSUER_CACHE_SECONDS, unique)
        return unique

    async def verify_frame(self, request: Request) -> tuple[IframeContext, tuple[str, ...]]:
        """The verified context of an iframe request and the hosts that may frame the answer.

        The ``cobot_*`` parameters are unsigned: they only say which space to ask about, and
        must agree with the signed ``frontdesk_context``."""
        params = request.query_params
        context, subdomain = params.get("frontdesk_context"), params.get("cobot_subdomain", "")
        if not context or not subdomain:
            raise Refused("Open Space App from your space's navigation.", self.any_space())
        try:
            issuers = await self.space_issuers(subdomain)
        except (ConfigurationError, NotFound) as exc:
            raise Refused(f"There is no space {subdomain!r}.", self.any_space()) from exc
        try:
            ctx = await self.oauth.verify_context(context, issuer=issuers, subdomain=subdomain)
        except ContextError as exc:
            reason = (
                f"This page's signed context is not valid ({exc}). Reopen it from the space's navigation."
            )
            raise Refused(reason, issuers) from exc
        if params.get("cobot_user_id") != ctx.user_id:
            raise Refused("The page's parameters do not match its signed context.", issuers)
        return ctx, issuers

    async def embed(self, request: Request) -> Response:
        try:
            ctx, ancestors = await self.verify_frame(request)
        except Refused as exc:
            body = f"<h1>Not allowed</h1><p class='error'>{esc(exc)}</p>"
            return page("Not allowed", body, status=403, frame_ancestors=exc.frame_ancestors)
        installation = self.installations.get(ctx.space_subdomain)
        if installation is None or installation.space_id != ctx.space_id:
            app_url = esc(self.settings.app_url)
            body = (
                f"<h1>Not installed</h1><p>Space App is not installed in this space"
                f" ({esc(ctx.space_subdomain)}) yet. An admin of the space can install it at"
                f" <a href='{app_url}' target='_blank'>{app_url}</a>.</p>"
            )
            return page("Not installed", body, status=404, frame_ancestors=ancestors)
        try:
            members = await self.oauth.api(installation.space_token).memberships()
        except (InvalidToken, Forbidden):
            body = (
                "<h1>Install again</h1><p>Space App lost its access here; an admin must install it again.</p>"
            )
            return page("Install again", body, status=409, frame_ancestors=ancestors)
        me = next((m for m in members if m.user_id == ctx.user_id), None)
        table = rows((esc(m.name), esc(m.role)) for m in members)
        body = (
            f"<h1>Hello {esc(me.name if me else ctx.user_id)} ({esc(ctx.role)})</h1>"
            f"<p class='note'>Space App in {esc(installation.space_name)}, opened on {esc(ctx.issuer)}.</p>"
            f"<h2>Members</h2><table><tr><th>Name</th><th>Role</th></tr>{table}</table>"
            f"<h2>Your own sign-in</h2>{self._frame_signin(request, ctx)}"
        )
        return page(f"Space App · {installation.space_name}", body, frame_ancestors=ancestors)

    def _frame_signin(self, request: Request, ctx: IframeContext) -> str:
        token = self.frame_tokens.get(ctx.user_id)
        if token is not None:
            email = (token.id_token_claims or {}).get("email", ctx.user_id)
            return f"<p>You are signed in to Space App as {esc(email)}.</p>"
        href = f"/embed/signin?{request.url.query}"
        return (
            f"<p><a href='{esc(href)}'>Sign in to Space App inside this frame</a>"
            f" · <a href='{esc(href)}&amp;on=page' target='_top'>or on the whole page</a></p>"
            "<p class='note'>Inside the frame your browser may not pass on your login to the space,"
            " so you may be asked to log in again; on the whole page you are not.</p>"
        )

    async def embed_signin(self, request: Request) -> Response:
        try:
            ctx, ancestors = await self.verify_frame(request)
        except Refused as exc:
            body = f"<h1>Not allowed</h1><p class='error'>{esc(exc)}</p>"
            return page("Not allowed", body, status=403, frame_ancestors=exc.frame_ancestors)
        # On the host the page was opened on: the person is logged in there, and Frontdesk
        # lets its own pages (the consent page) be framed by that same origin.
        pending = await self.oauth.start_authorization(FRAME_SCOPE, issuer=ctx.issuer)
        if request.query_params.get("on") == "page":  # the whole page: back to the space's page
            back = f"{ctx.issuer}/navigation/{ctx.navigation_link_id or ''}"
            flow = Flow("page", pending, user_id=ctx.user_id, back=back)
        else:
            back = f"/embed?{request.url.query}"
            flow = Flow("frame", pending, user_id=ctx.user_id, frame_ancestors=ancestors, back=back)
        self.flows.add(flow)
        return redirect(pending.url, flow.frame_ancestors)

    async def failed(self, request: Request, exc: Exception) -> Response:
        """Frontdesk could not be reached or answered with an error we did not expect."""
        body = f"<h1>Frontdesk did not answer as expected</h1><p class='error'>{esc(exc)}</p>"
        return page("Error", body, status=502, frame_ancestors=self.any_space())


def create_app(settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None) -> Starlette:
    """The ASGI app. ``transport`` replaces how the app reaches Frontdesk (tests)."""
    space_app = SpaceApp(settings, transport=transport)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await space_app.oauth.aclose()

    app = Starlette(
        routes=space_app.routes(),
        lifespan=lifespan,
        exception_handlers={FrontdeskError: space_app.failed},
    )
    app.state.space_app = space_app
    return app
