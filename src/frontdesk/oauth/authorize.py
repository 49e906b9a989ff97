"""The authorization endpoint, response_type=code (RFC 6749 §4.1.1–§4.1.2, OpenID Connect
Core §3.1.2).

:meth:`AuthorizationEndpoint.handle` decides; the web layer only renders what it decides. A
request runs through an ordered list of small checks (:data:`CHECKS`, in the manner of
node-oidc-provider's authorization actions); the first check that has an answer ends it with
one of four typed outcomes:

* :class:`ShowError`: a page for the person, never a redirect. An unknown ``client_id`` or an
  unregistered ``redirect_uri`` must not send anyone anywhere (§4.1.2.1, RFC 9700 §4.11.2).
* :class:`NeedLogin`: nobody is logged in on this host, or the app asks for a fresh login
  (``prompt=login``, ``max_age``). The way back carries a signed stamp bound to this very
  request; the login page binds it to the session its login starts
  (:meth:`AuthorizationEndpoint.bind_login_stamp`), so that login satisfies the request
  without a loop, and no other session or request can use the stamp.
* :class:`NeedSecondFactor`: the app asks for a login with a second factor (``acr_values``,
  :mod:`frontdesk.oauth.amr`) and this session's login had none.
* :class:`NeedConsent`: the consent page (the person has not granted these scopes yet).
* :class:`RedirectToClient`: back to the app with a ``code`` or an ``error`` (with ``state``
  and ``iss``, RFC 9207). Errors are sent there only once the person has logged in, so the
  endpoint is no open redirector.

A pushed request (RFC 9126 §4, oauth/par.py) arrives as ``client_id`` and ``request_uri``
only: :meth:`AuthorizationEndpoint.load_pushed` puts the pushed parameters in place of the
query, and the request is carried through login and consent by those two parameters alone.
The decision (a code, or an error sent to the app) uses it up.

Nothing is committed here; the caller commits the unit of work (a code, a consent, the
``consent.granted`` event).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Protocol
from urllib.parse import parse_qsl, urlencode

from frontdesk import events
from frontdesk.inputs import BadInput, ascii_int
from frontdesk.oauth import amr as methods
from frontdesk.oauth import pkce, redirect_uris
from frontdesk.oauth.config import OAuthConfig
from frontdesk.oauth.errors import (
    AccessDenied,
    ConsentRequired,
    InteractionRequired,
    InvalidRequest,
    LoginRequired,
    OAuthError,
    RequestNotSupported,
    UnsupportedResponseType,
)
from frontdesk.oauth.metadata import AUTHORIZATION_PATH
from frontdesk.oauth.models import FAPI2_CODE_TTL_SECONDS, Client, NewCode
from frontdesk.oauth.request import OAuthRequest, Params
from frontdesk.oauth.resource import requested_resource
from frontdesk.oauth.scopes import (
    catalogue,
    format_scope,
    grant_scopes,
    parse_scope,
    token_scopes,
    with_builtin_umbrellas,
)
from frontdesk.oauth.storage import (
    ClientStore,
    CodeStore,
    ConsentStore,
    EventStore,
    PushedRequest,
    PushedRequestStore,
)
from frontdesk.security.randoms import CODE_PREFIX, new_secret

# The parameters that define an authorization request; the consent form carries them back.
REQUEST_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "prompt",
    "max_age",
    "resource",
    "acr_values",
    # RFC 9449 §10: the thumbprint of the DPoP key the code's token request must use.
    "dpop_jkt",
    # RFC 9126 §4: a pushed request travels as client_id and request_uri alone.
    "request_uri",
)
_JKT = re.compile(r"[A-Za-z0-9_-]{43}")
# RFC 9126 §2.2: the request_uri of a pushed request; what follows is its random part.
REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
# How long a pushed request stays usable once the person's interaction began (its
# ``expires_in`` only bounds how soon the client must send the person here): time to log in,
# confirm a second factor and consent, as long as a login stamp counts.
PUSHED_INTERACTION = timedelta(minutes=15)
# The signed "sent to log in again at" stamp on the way back from the login page:
# ``<moment>.<mac of the moment and the request>`` as the endpoint sends it, and
# ``<moment>.<that mac>.<mac binding it to the new session>`` once a login accepted it.
LOGIN_STAMP_PARAM = "fd_login_after"
LOGIN_STAMP_VALID = timedelta(minutes=15)


class AuthorizationStore(ClientStore, CodeStore, ConsentStore, EventStore, PushedRequestStore, Protocol):
    """What the authorization endpoint reads and writes."""


# ---- what comes in ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Viewer:
    """The person logged in on this host, as far as authorization needs to know them."""

    user_id: str
    # When they logged in (the session's start): OIDC ``auth_time``.
    auth_time: datetime
    # A stable, non-secret handle of the browser session (its id): a login stamp counts only
    # in the session whose login it led to.
    session: str = ""
    # Whether the person's email address is verified (read when the operator requires it).
    email_verified: bool = True
    # The session's public id: the code's and the ID token's ``sid`` (OpenID Connect
    # Back-Channel Logout 1.0 §2.4); empty outside a browser session.
    sid: str = ""
    # How they logged in (RFC 8176 values, oauth/amr.py); a second factor adds "mfa".
    amr: tuple[str, ...] = (methods.PASSWORD,)


@dataclass(frozen=True)
class Decision:
    """The person's answer on the consent page: ``choice`` is what they pressed; ``proof``
    tells whether the form's anti-forgery token was made for the given purpose (the web layer
    knows how to check it; the core knows which purpose the request needs)."""

    choice: str
    proof: Callable[[str], bool]


# ---- what goes out ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RedirectToClient:
    url: str
    # 302 answering a GET; 303 after the consent form's POST.
    status: int = 302


@dataclass(frozen=True)
class ShowError:
    message: str
    hint: str | None = None
    status: int = 400


class LoginReason(Enum):
    NOT_LOGGED_IN = "not logged in"
    PROMPT_LOGIN = "prompt=login"
    MAX_AGE = "max_age"


@dataclass(frozen=True)
class NeedLogin:
    """Send the person to this host's login page, then back to ``return_to``."""

    return_to: str
    reason: LoginReason

    @property
    def again(self) -> bool:
        """The person may be logged in already; the login page shows its form all the same."""
        return self.reason is not LoginReason.NOT_LOGGED_IN


@dataclass(frozen=True)
class NeedConsent:
    request: AuthorizationRequest
    # The purpose the consent form's anti-forgery token must be made for.
    purpose: str


@dataclass(frozen=True)
class NeedVerification:
    """The operator requires a verified email address and the person's is not: the consent
    page says to verify it first (FRONTDESK_REQUIRE_VERIFIED_EMAIL)."""

    request: AuthorizationRequest


@dataclass(frozen=True)
class NeedSecondFactor:
    """The app asks for a login with a second factor (``acr_values``, oauth/amr.py) and this
    session's login had none: the person confirms a second factor (the factor page tells
    someone without one to set one up), then comes back to ``return_to``: this very request,
    its login stamp kept (the session stays the same, so a stamp bound to it still counts)."""

    return_to: str


Outcome = RedirectToClient | ShowError | NeedLogin | NeedConsent | NeedVerification | NeedSecondFactor


# ---- the validated request ----------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A client and redirect URI that passed validation: errors may now be redirected."""

    client: Client
    redirect_uri: str
    redirect_uri_sent: bool
    state: str | None
    issuer: str

    def url(self, params: dict[str, str]) -> str:
        """The redirect URI with response parameters added to its query (§4.1.2, §3.1.2)."""
        values = dict(params)
        if self.state is not None:
            values["state"] = self.state
        values["iss"] = self.issuer  # RFC 9207 §2
        sep = "&" if "?" in self.redirect_uri else "?"
        if self.redirect_uri.endswith(("?", "&")):
            sep = ""
        return self.redirect_uri + sep + urlencode(values)

    def error_url(self, error: OAuthError) -> str:
        return self.url(error.body())


@dataclass(frozen=True)
class AuthorizationRequest:
    target: Target
    scopes: tuple[str, ...]
    space_id: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    nonce: str | None
    prompt: frozenset[str]
    params: tuple[tuple[str, str], ...]
    max_age: int | None = None
    # RFC 8707 §2: the resource the tokens will be for (None: every host).
    resource: str | None = None
    # OpenID Connect Core §3.1.2.1 acr_values: only the multi-factor class will do.
    requires_mfa: bool = False
    # RFC 9449 §10: the code redeems only with a DPoP proof of this key.
    dpop_jkt: str | None = None

    @property
    def client(self) -> Client:
        return self.target.client

    def fingerprint(self) -> str:
        """Binds a consent form (and a login stamp) to exactly this request."""
        return fingerprint(self.params, self.target.issuer)


def fingerprint(pairs: tuple[tuple[str, str], ...], issuer: str) -> str:
    """A digest of the request's defining parameters (:data:`REQUEST_PARAMS`) on this host."""
    kept = sorted((k, v) for k, v in pairs if k in REQUEST_PARAMS and v)
    text = "\n".join(f"{k}={v}" for k, v in kept) + f"\n@{issuer}"
    return hashlib.sha256(text.encode()).hexdigest()


PUSHED_GONE = "This request_uri is unknown, expired or already used. Start again from the app."


def _same_host(pushed: PushedRequest, request: OAuthRequest) -> bool:
    """A pushed request is a request of the host it was pushed to: the same issuer, or the same
    space (its subdomain sends the browser on to its verified custom domain, web/hosts.py)."""
    if pushed.space_id is not None:
        return pushed.space_id == request.space_id
    return request.space_id is None and pushed.issuer == request.issuer


def consent_purpose(areq: AuthorizationRequest) -> str:
    return "consent:" + areq.fingerprint()


def _prompt(params: Params) -> frozenset[str]:
    """OIDC Core §3.1.2.1 ``prompt``: space-separated values; ``none`` stands alone."""
    prompt = frozenset((params.get("prompt") or "").split())
    if "none" in prompt and len(prompt) > 1:
        raise InvalidRequest("prompt=none cannot be combined with other values")
    return prompt


def _max_age(params: Params) -> int | None:
    text = params.get("max_age")
    if text is None:
        return None
    try:
        return ascii_int(text, max_digits=10)
    except BadInput as exc:
        raise InvalidRequest("max_age must be a number of seconds") from exc


# ---- the state of one request, as the checks go -------------------------------------------------


@dataclass
class Flow:
    request: OAuthRequest
    viewer: Viewer | None
    decision: Decision | None
    store: AuthorizationStore
    params: Params = field(init=False)
    target: Target | None = None
    areq: AuthorizationRequest | None = None
    # The random part of the request_uri of a pushed request (RFC 9126 §4), and whether a
    # decision used it up already.
    pushed: str | None = None
    pushed_used: bool = False

    def __post_init__(self) -> None:
        self.params = Params(self.request.query)

    @property
    def redirect_status(self) -> int:
        return 302 if self.decision is None else 303


Check = Callable[["AuthorizationEndpoint", Flow], Awaitable[Outcome | None]]


class AuthorizationEndpoint:
    def __init__(self, config: OAuthConfig, mac: Callable[[str], str]) -> None:
        self.config = config
        # A keyed MAC (the server secret's) for the login stamp.
        self.mac = mac

    async def handle(
        self,
        request: OAuthRequest,
        viewer: Viewer | None,
        store: AuthorizationStore,
        decision: Decision | None = None,
    ) -> Outcome:
        """Decide what to answer: ``decision`` is None for the GET that opens the request,
        and the person's answer for the consent form's POST."""
        flow = Flow(request=request, viewer=viewer, decision=decision, store=store)
        for check in CHECKS:
            outcome = await check(self, flow)
            if outcome is not None:
                if isinstance(outcome, RedirectToClient) and not await self.use_pushed(flow):
                    return ShowError(PUSHED_GONE)
                return outcome
        raise AssertionError("the last check always answers")

    # ---- 0. a pushed request (RFC 9126 §4) ------------------------------------------------------

    async def load_pushed(self, flow: Flow) -> Outcome | None:
        """``request_uri`` with ``client_id``: the pushed parameters replace the query (the
        other parameters in the URL are ignored, §4). An unknown, expired, used or another
        client's request_uri is an error page: nothing verified a redirect URI yet."""
        try:
            uri = flow.params.get("request_uri")
            client_id = flow.params.get("client_id")
        except InvalidRequest:
            return ShowError("The request names its app or request_uri more than once.")
        if uri is None:
            return None
        if client_id is None:
            return ShowError("The request does not say which app is asking (client_id is missing).")
        if not uri.startswith(REQUEST_URI_PREFIX):
            return ShowError(
                "The request_uri was not issued by this server.",
                hint="An app pushes its request to /oauth/par and sends the request_uri it gets back.",
            )
        raw = uri.removeprefix(REQUEST_URI_PREFIX)
        pushed = await flow.store.find_pushed_request(raw)
        now = self.config.clock()
        if (
            pushed is None
            or pushed.used_at is not None
            or pushed.expires_at <= now
            or pushed.client_id != client_id
            or not _same_host(pushed, flow.request)
        ):
            return ShowError(PUSHED_GONE)
        if pushed.opened_at is None:
            await flow.store.open_pushed_request(raw, now + PUSHED_INTERACTION)
        stamp = tuple((k, v) for k, v in flow.request.query if k == LOGIN_STAMP_PARAM)
        flow.request = replace(flow.request, query=(("client_id", client_id), ("request_uri", uri), *stamp))
        flow.params = Params(pushed.params)
        flow.pushed = raw
        return None

    async def use_pushed(self, flow: Flow) -> bool:
        """Use the pushed request up as the decision is made (single use, RFC 9126 §4); False
        when another decision used it first. True for a request that was not pushed."""
        if flow.pushed is None or flow.pushed_used:
            return True
        flow.pushed_used = True
        return await flow.store.use_pushed_request(flow.pushed, self.config.clock())

    # ---- 1. may we redirect at all? -----------------------------------------------------------

    async def find_target(self, flow: Flow) -> Outcome | None:
        params = flow.params
        try:
            client_id = params.get("client_id")
            requested = params.get("redirect_uri")
        except InvalidRequest:
            return ShowError("The request names its app or redirect URI more than once.")
        if client_id is None:
            return ShowError("The request does not say which app is asking (client_id is missing).")
        client = await flow.store.get_client(client_id)
        if client is None:
            return ShowError("No app with this client_id is registered.")
        if requested is None:
            if len(client.redirect_uris) != 1:
                return ShowError(
                    "The request has no redirect_uri and the app registered several; it must name one."
                )
            redirect_uri, sent = client.redirect_uris[0], False
        else:
            result = redirect_uris.match(
                requested, list(client.redirect_uris), allow_query=client.allow_redirect_query
            )
            if not result.ok:
                hint = None
                if result.only_query_differs:
                    hint = (
                        "The address differs from a registered one only by extra query parameters. The app's "
                        "owner can allow that with “accept extra query parameters on the redirect URI”."
                    )
                return ShowError("The redirect_uri is not registered for this app.", hint=hint)
            redirect_uri, sent = requested, True
        try:
            state = params.get("state")
        except InvalidRequest:
            state = None
        flow.target = Target(
            client=client,
            redirect_uri=redirect_uri,
            redirect_uri_sent=sent,
            state=state,
            issuer=flow.request.issuer,
        )
        return None

    # ---- 2. authenticate before redirecting anything else (RFC 9700 §4.11.2) -------------------

    async def require_login(self, flow: Flow) -> Outcome | None:
        if flow.viewer is not None:
            return None
        assert flow.target is not None
        try:
            prompt = _prompt(flow.params)
            asks_fresh = "login" in prompt or flow.params.get("max_age") is not None
        except InvalidRequest:  # reported to the app once the person has logged in
            prompt, asks_fresh = frozenset(), False
        if "none" in prompt:
            return RedirectToClient(
                flow.target.error_url(LoginRequired("nobody is logged in")), flow.redirect_status
            )
        # A person who was not logged in at all logs in now: that is the fresh login a
        # prompt=login or max_age request asks for, so the way back carries the stamp too.
        return NeedLogin(self._return_to(flow.request, stamped=asks_fresh), LoginReason.NOT_LOGGED_IN)

    # ---- 3. the rest of the request; errors go back to the app ---------------------------------

    async def validate(self, flow: Flow) -> Outcome | None:
        assert flow.target is not None
        try:
            if flow.pushed is None:
                self.refuse_unpushed(flow.target.client, flow.params)
            resource = await requested_resource(flow.request, flow.params.values("resource"))
            flow.areq = self._validate(flow.request, flow.params, flow.target, resource)
        except OAuthError as exc:
            return RedirectToClient(flow.target.error_url(exc), flow.redirect_status)
        return None

    def refuse_unpushed(self, client: Client, params: Params) -> None:
        """A request sent straight to the authorization endpoint: refused when the app (or
        the server) requires PAR (RFC 9126 §6), and a request object is accepted only inside
        a pushed request (OpenID Connect Core §3.1.2.6 ``request_not_supported``)."""
        if client.needs_par or self.config.require_par:
            raise InvalidRequest("this app must push its authorization requests to /oauth/par (RFC 9126)")
        if params.values("request"):
            raise RequestNotSupported("send a request object inside a pushed request (/oauth/par)")

    def _validate(
        self, request: OAuthRequest, params: Params, target: Target, resource: str | None
    ) -> AuthorizationRequest:
        for name in REQUEST_PARAMS:
            params.get(name)  # raises invalid_request on repeated parameters
        response_type = params.get("response_type")
        if response_type is None:
            raise InvalidRequest("missing parameter 'response_type'")
        if response_type != "code":
            raise UnsupportedResponseType("only response_type=code is supported")
        client = target.client
        scopes = grant_scopes(
            parse_scope(params.get("scope")),
            client.scopes,
            trusted=client.trusted,
            space_host=request.space_id is not None,
        )
        token_scopes(scopes)  # what its tokens would hold must fit (invalid_scope otherwise)
        challenge, method = pkce.check_challenge(
            params.get("code_challenge"), params.get("code_challenge_method"), required=client.pkce_required
        )
        nonce = params.get("nonce")
        if nonce is not None and len(nonce) > 500:
            raise InvalidRequest("nonce is too long")
        prompt = _prompt(params)
        max_age = _max_age(params)
        acr_values = params.get("acr_values")
        if acr_values is not None and len(acr_values) > 500:
            raise InvalidRequest("acr_values is too long")
        dpop_jkt = params.get("dpop_jkt")
        if dpop_jkt is not None and not _JKT.fullmatch(dpop_jkt):
            # RFC 9449 §10: a JWK SHA-256 thumbprint, base64url (43 characters).
            raise InvalidRequest("dpop_jkt must be a JWK SHA-256 thumbprint (RFC 9449 §10)")
        kept = tuple((k, v) for k, v in request.query if k in REQUEST_PARAMS and v)
        return AuthorizationRequest(
            target=target,
            scopes=scopes,
            space_id=request.space_id,
            code_challenge=challenge,
            code_challenge_method=method,
            nonce=nonce,
            prompt=prompt,
            params=kept,
            max_age=max_age,
            resource=resource,
            requires_mfa=methods.requires_mfa(acr_values),
            dpop_jkt=dpop_jkt,
        )

    # ---- 4. prompt=login and max_age (OpenID Connect Core §3.1.2.1) ----------------------------

    async def check_reauthentication(self, flow: Flow) -> Outcome | None:
        # The consent POST that follows the page was checked when the page was shown.
        if flow.decision is not None:
            return None
        areq, viewer = flow.areq, flow.viewer
        assert areq is not None and viewer is not None
        fresh_since = self._stamp_time(flow.request, areq, viewer.session)
        reason = self.reauthentication_needed(areq, viewer.auth_time, fresh_since)
        if reason is None:
            return None
        if "none" in areq.prompt:
            error = LoginRequired("the app asks for a more recent login")
            return RedirectToClient(areq.target.error_url(error), flow.redirect_status)
        return NeedLogin(self._return_to(flow.request, stamped=True), reason)

    def reauthentication_needed(
        self, areq: AuthorizationRequest, auth_time: datetime, fresh_since: datetime | None
    ) -> LoginReason | None:
        """Must the person log in again before this request? ``prompt=login`` asks for a new
        login, ``max_age`` for one at most that many seconds old. ``fresh_since`` is when this
        server sent the person to log in again for this very request: a login after it
        satisfies both (so that ``max_age=0`` cannot loop)."""
        if fresh_since is not None and auth_time >= fresh_since:
            return None
        if "login" in areq.prompt:
            return LoginReason.PROMPT_LOGIN
        if areq.max_age is not None and self.config.clock() - auth_time > timedelta(seconds=areq.max_age):
            return LoginReason.MAX_AGE
        return None

    # ---- 5. acr_values: a second factor (OpenID Connect Core §3.1.2.1, oauth/amr.py) ----------

    async def check_second_factor(self, flow: Flow) -> Outcome | None:
        """A request that only the multi-factor class satisfies, in a session whose login had
        no second factor: the person confirms one first (a step up, which sets the session's
        ``auth_time`` to when it completed), or is told to set one up. The consent form's
        POST is checked too: a session cannot lose its second factor, so this only answers
        there when the page was never shown."""
        areq, viewer = flow.areq, flow.viewer
        assert areq is not None and viewer is not None
        if not areq.requires_mfa or methods.MULTI_FACTOR in viewer.amr:
            return None
        if "none" in areq.prompt:
            error = LoginRequired("the app asks for a login with a second factor")
            return RedirectToClient(areq.target.error_url(error), flow.redirect_status)
        return NeedSecondFactor(AUTHORIZATION_PATH + "?" + urlencode(list(flow.request.query)))

    # ---- 6. consent and the answer -------------------------------------------------------------

    async def decide(self, flow: Flow) -> Outcome:
        areq, viewer = flow.areq, flow.viewer
        assert areq is not None and viewer is not None
        if self.config.require_verified_email and not viewer.email_verified:
            if "none" in areq.prompt:  # OIDC Core §3.1.2.6: the person has to do something
                return RedirectToClient(
                    areq.target.error_url(InteractionRequired("the user's email address is not verified")),
                    flow.redirect_status,
                )
            return NeedVerification(areq)
        if flow.decision is None:
            if not await self.consent_needed(areq, viewer.user_id, flow.store):
                # Consent on record already covers this request: nothing to remember again.
                if not await self.use_pushed(flow):
                    return ShowError(PUSHED_GONE)
                url = await self.issue_code(areq, viewer, flow.store, remember=False)
                return RedirectToClient(url, 302)
            if "none" in areq.prompt:
                return RedirectToClient(
                    areq.target.error_url(ConsentRequired("this app needs the user's consent")), 302
                )
            return NeedConsent(areq, consent_purpose(areq))
        # The consent form: bound to this session and this exact request (RFC 6749 §10.12).
        if not flow.decision.proof(consent_purpose(areq)):
            return ShowError(
                "This approval form expired or was not sent by you. Start again from the app.", status=403
            )
        if flow.decision.choice == "approve":
            if not await self.use_pushed(flow):
                return ShowError(PUSHED_GONE)
            url = await self.issue_code(areq, viewer, flow.store, remember=True)
            await flow.store.record_event(
                events.CONSENT_GRANTED,
                user_id=viewer.user_id,
                app_id=areq.client.client_id,
                space_id=areq.space_id,
                ip=flow.request.client_ip,
                detail={"scope": format_scope(areq.scopes)},
            )
            return RedirectToClient(url, 303)
        if flow.decision.choice == "deny":
            return RedirectToClient(areq.target.error_url(AccessDenied("the user denied the request")), 303)
        return ShowError("Choose approve or deny.")

    async def consent_needed(self, areq: AuthorizationRequest, user_id: str, store: ConsentStore) -> bool:
        """Ask again unless the person already granted at least these scopes to this app on
        this host (RFC 6819 §5.2.4.1), or the app explicitly asks for consent.

        A public client redirecting to a loopback address or a private-use scheme is always
        asked for: any program on the device can listen on a loopback port or claim the
        scheme and use the app's client_id, so a consent on record proves nothing about who
        asks now (RFC 8252 §8.6). ``prompt=none`` then answers ``consent_required``."""
        if "consent" in areq.prompt:
            return True
        if areq.client.public and redirect_uris.is_native(areq.target.redirect_uri):
            return True
        granted = await store.granted_scopes(user_id, areq.client.client_id, areq.space_id)
        # Compared with the umbrellas expanded: a scope file that widened an umbrella since
        # asks again (consents on record before expansion count the built-in umbrellas').
        return not catalogue().expand(areq.scopes) <= with_builtin_umbrellas(granted)

    async def issue_code(
        self, areq: AuthorizationRequest, viewer: Viewer, store: AuthorizationStore, *, remember: bool
    ) -> str:
        """Record consent (unless it is on record already), mint a single-use code and return
        the redirect URL (§4.1.2)."""
        # The umbrellas expanded now, once: the code, its tokens and the consent on record hold
        # what the person saw described (oauth/scopes.token_scopes).
        scopes = token_scopes(areq.scopes)
        if remember:
            await store.remember_consent(viewer.user_id, areq.client.client_id, areq.space_id, scopes)
        raw = new_secret(CODE_PREFIX)
        now = self.config.clock()
        await store.save_code(
            raw,
            NewCode(
                client_id=areq.client.client_id,
                user_id=viewer.user_id,
                space_id=areq.space_id,
                issuer=areq.target.issuer,
                redirect_uri=areq.target.redirect_uri,
                redirect_uri_sent=areq.target.redirect_uri_sent,
                scopes=scopes,
                code_challenge=areq.code_challenge,
                code_challenge_method=areq.code_challenge_method,
                nonce=areq.nonce,
                auth_time=viewer.auth_time,
                expires_at=now + timedelta(seconds=code_lifetime(areq.client, self.config.code_ttl_seconds)),
                resource=areq.resource,
                sid=viewer.sid or None,
                amr=viewer.amr,
                dpop_jkt=areq.dpop_jkt,
            ),
        )
        return areq.target.url({"code": raw})

    # ---- the login stamp ------------------------------------------------------------------------

    def _return_to(self, request: OAuthRequest, *, stamped: bool) -> str:
        """This request's URL on this host, to come back to after logging in; ``stamped``
        adds when this server sent the person to log in, signed and bound to this request."""
        kept = [(k, v) for k, v in request.query if k != LOGIN_STAMP_PARAM]
        if stamped:
            moment = str(int(self.config.clock().timestamp()))
            asked = self._asked_mac(moment, fingerprint(tuple(kept), request.issuer))
            kept.append((LOGIN_STAMP_PARAM, f"{moment}.{asked}"))
        return AUTHORIZATION_PATH + "?" + urlencode(kept)

    def _asked_mac(self, moment: str, bound: str) -> str:
        return self.mac(f"login-asked|{moment}|{bound}")

    def _session_mac(self, moment: str, asked: str, session: str) -> str:
        return self.mac(f"login-after|{moment}|{asked}|{session}")

    def bind_login_stamp(self, return_to: str, session: str) -> str:
        """Called by the login page once a login started the session ``session``: the way
        back with its stamp bound to that session too. A stamp taken by someone else (logged
        out, or in another session) proves nothing for this one: only a login that followed it
        binds it. ``return_to`` is returned unchanged when it carries no single stamp."""
        path, question, query = return_to.partition("?")
        if path != AUTHORIZATION_PATH or not question or not session:
            return return_to
        pairs = parse_qsl(query, keep_blank_values=True)
        stamps = [v for k, v in pairs if k == LOGIN_STAMP_PARAM]
        if len(stamps) != 1:
            return return_to
        moment, _, asked = stamps[0].partition(".")
        if not asked or "." in asked:
            return return_to
        value = f"{moment}.{asked}.{self._session_mac(moment, asked, session)}"
        kept = [(k, v) for k, v in pairs if k != LOGIN_STAMP_PARAM] + [(LOGIN_STAMP_PARAM, value)]
        return AUTHORIZATION_PATH + "?" + urlencode(kept)

    def _stamp_time(self, request: OAuthRequest, areq: AuthorizationRequest, session: str) -> datetime | None:
        """When this server sent the person to log in again for *this* request, if the stamp
        is genuine, made for this request, bound to this session by the login page, and
        recent."""
        values = [v for k, v in request.query if k == LOGIN_STAMP_PARAM]
        if len(values) != 1 or not session:
            return None
        parts = values[0].split(".")
        if len(parts) != 3:
            return None
        moment, asked, bound = parts
        if not (moment.isascii() and moment.isdigit()) or len(moment) > 12:
            return None
        if not hmac.compare_digest(asked.encode(), self._asked_mac(moment, areq.fingerprint()).encode()):
            return None
        if not hmac.compare_digest(bound.encode(), self._session_mac(moment, asked, session).encode()):
            return None
        when = datetime.fromtimestamp(int(moment), UTC)
        return when if self.config.clock() - when <= LOGIN_STAMP_VALID else None


CHECKS: tuple[Check, ...] = (
    AuthorizationEndpoint.load_pushed,
    AuthorizationEndpoint.find_target,
    AuthorizationEndpoint.require_login,
    AuthorizationEndpoint.validate,
    AuthorizationEndpoint.check_reauthentication,
    AuthorizationEndpoint.check_second_factor,
    AuthorizationEndpoint.decide,
)


def code_lifetime(client: Client, configured: int) -> int:
    """Seconds a new authorization code lives: the configured lifetime, at most 60 seconds
    under the FAPI 2.0 profile (FAPI2_CODE_TTL_SECONDS)."""
    return min(configured, FAPI2_CODE_TTL_SECONDS) if client.fapi else configured
