"""The authorization endpoint, response_type=code (RFC 6749 §4.1.1–§4.1.2).

Validation runs in a fixed order (Doorkeeper style). The first two steps decide whether it
is safe to redirect at all: an unknown ``client_id`` or an unregistered ``redirect_uri`` is
shown to the person and never redirected (§4.1.2.1, RFC 9700 §4.11.2). Every later error is
sent to the redirect URI with ``error``, ``error_description``, ``state`` and ``iss``
(RFC 9207), but only once the person has logged in, so the endpoint is no open redirector.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from frontdesk.oauth import pkce, redirect_uris
from frontdesk.oauth.config import OAuthConfig
from frontdesk.oauth.errors import (
    AccessDenied,
    BadAuthorizationRequest,
    InvalidRequest,
    OAuthError,
    UnsupportedResponseType,
)
from frontdesk.oauth.models import Client, NewCode
from frontdesk.oauth.request import OAuthRequest, Params
from frontdesk.oauth.scopes import grant_scopes, parse_scope
from frontdesk.oauth.storage import ClientStore, CodeStore, ConsentStore
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
)


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


class RedirectableError(Exception):
    def __init__(self, target: Target, error: OAuthError) -> None:
        super().__init__(error.error)
        self.target = target
        self.error = error

    @property
    def url(self) -> str:
        return self.target.error_url(self.error)


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

    @property
    def client(self) -> Client:
        return self.target.client

    def fingerprint(self) -> str:
        """Binds a consent form to exactly this request (checklist item 15)."""
        text = "\n".join(f"{k}={v}" for k, v in sorted(self.params)) + f"\n@{self.target.issuer}"
        return hashlib.sha256(text.encode()).hexdigest()


class AuthorizationEndpoint:
    def __init__(self, config: OAuthConfig) -> None:
        self.config = config

    # ---- step 1: may we redirect at all? ------------------------------------------------------

    async def find_target(self, request: OAuthRequest, store: ClientStore) -> Target:
        params = Params(request.query)
        try:
            client_id = params.get("client_id")
            requested = params.get("redirect_uri")
        except InvalidRequest as exc:
            raise BadAuthorizationRequest(
                "The request names its app or redirect URI more than once."
            ) from exc
        if client_id is None:
            raise BadAuthorizationRequest(
                "The request does not say which app is asking (client_id is missing)."
            )
        client = await store.get_client(client_id)
        if client is None:
            raise BadAuthorizationRequest("No app with this client_id is registered.")
        if requested is None:
            if len(client.redirect_uris) != 1:
                raise BadAuthorizationRequest(
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
                raise BadAuthorizationRequest("The redirect_uri is not registered for this app.", hint=hint)
            redirect_uri, sent = requested, True
        try:
            state = params.get("state")
        except InvalidRequest:
            state = None
        return Target(
            client=client,
            redirect_uri=redirect_uri,
            redirect_uri_sent=sent,
            state=state,
            issuer=request.issuer,
        )

    # ---- step 2: everything else (errors go back to the app) ----------------------------------

    def validate(self, request: OAuthRequest, target: Target) -> AuthorizationRequest:
        try:
            return self._validate(request, target)
        except OAuthError as exc:
            raise RedirectableError(target, exc) from exc

    def _validate(self, request: OAuthRequest, target: Target) -> AuthorizationRequest:
        params = Params(request.query)
        for name in REQUEST_PARAMS:
            params.get(name)  # raises invalid_request on repeated parameters
        response_type = params.get("response_type")
        if response_type is None:
            raise InvalidRequest("missing parameter 'response_type'")
        if response_type != "code":
            raise UnsupportedResponseType("only response_type=code is supported")
        client = target.client
        scopes = grant_scopes(parse_scope(params.get("scope")), client.scopes, trusted=client.trusted)
        challenge, method = pkce.check_challenge(
            params.get("code_challenge"), params.get("code_challenge_method"), required=client.pkce_required
        )
        nonce = params.get("nonce")
        if nonce is not None and len(nonce) > 500:
            raise InvalidRequest("nonce is too long")
        prompt = frozenset((params.get("prompt") or "").split())
        if "none" in prompt and len(prompt) > 1:
            raise InvalidRequest("prompt=none cannot be combined with other values")
        max_age_text = params.get("max_age")
        if max_age_text is not None and not (
            max_age_text.isascii() and max_age_text.isdigit() and len(max_age_text) <= 10
        ):
            raise InvalidRequest("max_age must be a number of seconds")
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
            max_age=int(max_age_text) if max_age_text is not None else None,
        )

    # ---- re-authentication (OpenID Connect Core §3.1.2.1) ---------------------------------

    def reauthentication_needed(
        self, areq: AuthorizationRequest, *, auth_time: datetime, fresh_since: datetime | None
    ) -> bool:
        """Must the person log in again before this request? ``prompt=login`` asks for a new
        login, ``max_age`` for one at most that many seconds old. ``fresh_since`` is when this
        server sent the person to log in again for this very request: a login after it
        satisfies both (so that ``max_age=0`` cannot loop)."""
        if fresh_since is not None and auth_time >= fresh_since:
            return False
        if "login" in areq.prompt:
            return True
        if areq.max_age is not None:
            return self.config.clock() - auth_time > timedelta(seconds=areq.max_age)
        return False

    # ---- consent and the response ---------------------------------------------------------

    async def consent_needed(self, areq: AuthorizationRequest, user_id: str, store: ConsentStore) -> bool:
        """Ask again unless the person already granted at least these scopes to this app on
        this host (RFC 6819 §5.2.4.1), or the app explicitly asks for consent."""
        if "consent" in areq.prompt:
            return True
        granted = await store.granted_scopes(user_id, areq.client.client_id, areq.space_id)
        return not set(areq.scopes) <= granted

    async def approve(
        self,
        areq: AuthorizationRequest,
        *,
        user_id: str,
        auth_time: datetime,
        store: CodeStore,
        consents: ConsentStore,
        remember: bool = True,
    ) -> str:
        """Record consent (unless it is already on record), mint a single-use code and return
        the redirect URL (§4.1.2)."""
        if remember:
            await consents.remember_consent(user_id, areq.client.client_id, areq.space_id, areq.scopes)
        raw = new_secret(CODE_PREFIX)
        now = self.config.clock()
        await store.save_code(
            raw,
            NewCode(
                client_id=areq.client.client_id,
                user_id=user_id,
                space_id=areq.space_id,
                issuer=areq.target.issuer,
                redirect_uri=areq.target.redirect_uri,
                redirect_uri_sent=areq.target.redirect_uri_sent,
                scopes=areq.scopes,
                code_challenge=areq.code_challenge,
                code_challenge_method=areq.code_challenge_method,
                nonce=areq.nonce,
                auth_time=auth_time,
                expires_at=now + timedelta(seconds=self.config.code_ttl_seconds),
            ),
        )
        return areq.target.url({"code": raw})

    def deny(self, areq: AuthorizationRequest) -> str:
        return areq.target.error_url(AccessDenied("the user denied the request"))
