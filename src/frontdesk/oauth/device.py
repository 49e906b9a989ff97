"""The device authorization grant (RFC 8628): the device authorization endpoint (§3.1–§3.2)
and the person's side at the verification URI (§3.3). The token endpoint's side is
:mod:`frontdesk.oauth.grants.device_code` (§3.4–§3.5).

* **Codes.** The device code is 256 random bits with a prefix, like every secret here
  (:mod:`frontdesk.security.randoms`). The user code is 8 characters of the base-20 consonant
  set of §6.1 (no vowels, so no words; no digits, so no look-alikes: about 34.6 bits),
  shown dash-grouped (``WDJB-MJHT``); entered case-insensitively with dashes and spaces
  ignored. Both are stored only as digests keyed with the server secret.
* **Hosts.** An authorization belongs to the host it was asked at (its issuer): its tokens are
  that host's, like a code from the authorization endpoint there, and its user code is
  entered on that host's ``/device`` page only (on another host it is unknown).
* **Guessing.** Entering user codes is throttled per browser session and per address (§5.1);
  a wrong code costs one failure, a malformed one (a letter not in the set) nothing.
* **The person.** They log in on the host, enter the code, and see who asks: the app, the
  device's address and User-Agent and when it asked, the scopes and the space, with the
  warning of §5.4. The rules of the authorization endpoint apply: the operator's
  ``FRONTDESK_REQUIRE_VERIFIED_EMAIL``; scopes were checked against the app (restricted ones
  for trusted apps only, those offered on this host) when the device asked.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import urlencode

from frontdesk import events
from frontdesk.oauth.authorize import Viewer
from frontdesk.oauth.client_assertion import ClientAssertions
from frontdesk.oauth.client_auth import ClientAuthStore, authenticate_client
from frontdesk.oauth.config import OAuthConfig
from frontdesk.oauth.errors import InvalidRequest
from frontdesk.oauth.metadata import DEVICE_GRANT_TYPE
from frontdesk.oauth.models import Client
from frontdesk.oauth.request import OAuthRequest, token_params
from frontdesk.oauth.scopes import format_scope, grant_scopes, parse_scope, token_scopes
from frontdesk.oauth.storage import (
    DEVICE_PENDING,
    ConsentStore,
    DeviceAuthorization,
    DeviceDecision,
    DeviceStore,
    EventStore,
    Limiter,
    NewDeviceAuthorization,
)
from frontdesk.oauth.tokens import NO_STORE, TokenResponse
from frontdesk.security.randoms import DEVICE_CODE_PREFIX, new_secret

GRANT_TYPE = DEVICE_GRANT_TYPE
# How tokens of this grant are recorded (``grant_type`` of the token rows, the audit log).
STORED_GRANT_TYPE = "device_code"
VERIFICATION_PATH = "/device"
# RFC 8628 §6.1: twenty consonants, no vowels (no words) and no digits (no look-alikes).
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8
# Slower polls are asked for in these steps (§3.5).
SLOW_DOWN_STEP = 5
# Device requests are at most this long a User-Agent (the column's size).
AGENT_CHARS = 300

DEFAULT_TTL_SECONDS = 600
DEFAULT_INTERVAL_SECONDS = 5


def new_user_code() -> str:
    """A fresh user code, normalised (no dash): 8 letters of :data:`USER_CODE_ALPHABET`."""
    return "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))


def normalize_user_code(text: str) -> str | None:
    """The code as stored: upper case, without dashes and spaces. None when it cannot be a
    user code (wrong length, a character outside the set)."""
    code = "".join(ch for ch in text.upper() if ch not in "- \t")
    if len(code) != USER_CODE_LENGTH or any(ch not in USER_CODE_ALPHABET for ch in code):
        return None
    return code


def display_user_code(code: str) -> str:
    """``WDJBMJHT`` → ``WDJB-MJHT`` (§6.1: grouped for reading and typing)."""
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


def verification_uri(issuer: str) -> str:
    return issuer + VERIFICATION_PATH


def verification_uri_complete(issuer: str, user_code: str) -> str:
    """§3.3.1: the verification URI with the user code, for a QR code or a link."""
    return verification_uri(issuer) + "?" + urlencode({"user_code": display_user_code(user_code)})


class DeviceEndpointStore(ClientAuthStore, DeviceStore, Protocol):
    """What the device authorization endpoint reads and writes."""


class DeviceAuthorizationEndpoint:
    """``POST /oauth/device_authorization`` (RFC 8628 §3.1–§3.2) on every host."""

    def __init__(
        self,
        config: OAuthConfig,
        *,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        interval_seconds: int = DEFAULT_INTERVAL_SECONDS,
        client_limiter: Limiter | None = None,
        client_assertions: ClientAssertions | None = None,
        new_code: Callable[[], str] = new_user_code,
    ) -> None:
        self.config = config
        self.ttl_seconds = ttl_seconds
        self.interval_seconds = interval_seconds
        self.client_limiter = client_limiter
        self.client_assertions = client_assertions
        self.new_code = new_code

    async def handle(self, request: OAuthRequest, store: DeviceEndpointStore) -> TokenResponse:
        if request.method != "POST":
            raise InvalidRequest("the device authorization endpoint accepts POST only")
        # The parameters as at the token endpoint (§3.1: form-encoded; the query string too
        # unless strict, docs/decisions.md §2).
        params = token_params(request, strict=self.config.strict)
        # §3.1: a confidential client authenticates as at the token endpoint; a public one
        # names itself with client_id (the ``none`` method of oauth/client_auth.py); an app
        # registered with keys signs a client assertion (RFC 7523 §2.2).
        client = await authenticate_client(
            request, params, store, self.client_limiter, self.client_assertions
        )
        scopes = self._scopes(client, params.get("scope"), space_host=request.space_id is not None)
        now = self.config.clock()
        device_code = new_secret(DEVICE_CODE_PREFIX)
        new = NewDeviceAuthorization(
            client_id=client.client_id,
            scopes=scopes,
            issuer=request.issuer,
            space_id=request.space_id,
            interval=self.interval_seconds,
            expires_at=now + timedelta(seconds=self.ttl_seconds),
            device_ip=request.client_ip,
            device_agent=(request.header("user-agent") or "")[:AGENT_CHARS],
        )
        # A user code drawn twice among the live ones (1 in 2.5·10¹⁰ per pair) is drawn again.
        for _ in range(5):
            user_code = self.new_code()
            if await store.save_device_authorization(device_code, user_code, new, now):
                break
        else:
            raise RuntimeError("no free user code after five draws")
        body = {
            "device_code": device_code,
            "user_code": display_user_code(user_code),
            "verification_uri": verification_uri(request.issuer),
            "verification_uri_complete": verification_uri_complete(request.issuer, user_code),
            "expires_in": self.ttl_seconds,
            "interval": self.interval_seconds,
        }
        return TokenResponse(body, headers=dict(NO_STORE))

    @staticmethod
    def _scopes(client: Client, requested: str | None, *, space_host: bool) -> tuple[str, ...]:
        """The scopes as the authorization endpoint grants them (RFC 6749 §3.3: limited to
        the app's, restricted ones for trusted apps only, those offered on this host), with
        the umbrellas expanded now: what the person is shown is what the tokens hold."""
        granted = grant_scopes(
            parse_scope(requested), client.scopes, trusted=client.trusted, space_host=space_host
        )
        return token_scopes(granted)


# ---- the person's side (§3.3) ------------------------------------------------------------------

UNKNOWN = "unknown"
MALFORMED = "malformed"
EXPIRED = "expired"
DECIDED = "decided"
THROTTLED = "throttled"


@dataclass(frozen=True)
class Lookup:
    """What entering a user code found: the authorization, or why not (``problem``: one of
    :data:`UNKNOWN`, :data:`MALFORMED`, :data:`EXPIRED`, :data:`DECIDED`, :data:`THROTTLED`
    with ``wait`` seconds)."""

    authorization: DeviceAuthorization | None = None
    problem: str | None = None
    wait: int | None = None


@dataclass(frozen=True)
class Answer:
    """The outcome of the person's decision: ``done`` (approved or denied as asked), or the
    ``problem`` that kept it from counting (:data:`EXPIRED`, :data:`DECIDED`, ``"verify"``:
    the operator requires a verified email address first)."""

    done: bool
    problem: str | None = None


VERIFY_FIRST = "verify"


class DeviceVerificationStore(DeviceStore, ConsentStore, EventStore, Protocol):
    """What the verification page reads and writes."""


class DeviceVerification:
    """The verification URI's decisions (RFC 8628 §3.3); the web layer renders them."""

    def __init__(self, config: OAuthConfig, limiter: Limiter | None = None) -> None:
        self.config = config
        # Failures per browser session and address (services/throttle.FailureThrottle).
        self.limiter = limiter

    def purpose(self, user_code: str) -> str:
        """The anti-forgery purpose of the consent form: this session and this (normalised)
        user code. Checked before the code is looked up, so the decision form is no way
        around the throttle on entering codes."""
        return "device:" + user_code

    async def enter(
        self, text: str, *, issuer: str, session: str, address: str, store: DeviceStore
    ) -> Lookup:
        """The authorization a person's entered code names on this host, counting failures."""
        code = normalize_user_code(text)
        if code is None:
            return Lookup(problem=MALFORMED)
        keys = {"session": session, "address": address}
        if self.limiter is not None:
            wait = await self.limiter.attempt(keys)
            if wait is not None:
                return Lookup(problem=THROTTLED, wait=wait)
        found = await store.find_device_by_user_code(code, issuer)
        if found is None:
            if self.limiter is not None:
                await self.limiter.failed(keys)
            return Lookup(problem=UNKNOWN)
        if self.limiter is not None:
            await self.limiter.succeeded(keys)
        return self.check(found)

    async def reopen(self, text: str, *, issuer: str, store: DeviceStore) -> Lookup:
        """The authorization a consent form names (its code was entered and found before;
        the form's anti-forgery token, bound to it, is checked by the caller)."""
        code = normalize_user_code(text)
        found = await store.find_device_by_user_code(code, issuer) if code else None
        return self.check(found) if found is not None else Lookup(problem=UNKNOWN)

    def check(self, found: DeviceAuthorization) -> Lookup:
        if found.status != DEVICE_PENDING:
            return Lookup(found, problem=DECIDED)
        if found.expires_at <= self.config.clock():
            return Lookup(found, problem=EXPIRED)
        return Lookup(found)

    def needs_verification(self, viewer: Viewer) -> bool:
        """The operator requires a verified email address and the person's is not: the
        consent page says so and offers no approval (as oauth/authorize.py's NeedVerification)."""
        return self.config.require_verified_email and not viewer.email_verified

    async def decide(
        self,
        authorization: DeviceAuthorization,
        viewer: Viewer,
        *,
        approve: bool,
        store: DeviceVerificationStore,
        ip: str,
    ) -> Answer:
        """Approve or deny. Approving follows the authorization endpoint's rules: a verified
        address when the operator requires one; the consent is remembered like there."""
        if approve and self.needs_verification(viewer):
            return Answer(False, VERIFY_FIRST)
        now = self.config.clock()
        decision = DeviceDecision(
            approved=approve,
            user_id=viewer.user_id,
            auth_time=viewer.auth_time,
            amr=viewer.amr,
            sid=viewer.sid or None,
        )
        if not await store.decide_device(authorization.id, decision, now):
            return Answer(False, self.check_again(authorization, now))
        if approve:
            await store.remember_consent(
                viewer.user_id, authorization.client_id, authorization.space_id, authorization.scopes
            )
            await store.record_event(
                events.CONSENT_GRANTED,
                user_id=viewer.user_id,
                app_id=authorization.client_id,
                space_id=authorization.space_id,
                ip=ip,
                detail={"scope": format_scope(authorization.scopes), "device": True},
            )
        return Answer(True)

    @staticmethod
    def check_again(authorization: DeviceAuthorization, now: datetime) -> str:
        return EXPIRED if authorization.expires_at <= now else DECIDED
