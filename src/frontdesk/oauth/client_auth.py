"""Client authentication (RFC 6749 §2.3), the one way the token, revocation (RFC 7009 §2.1)
and introspection (RFC 7662 §2.1) endpoints authenticate the calling client.

Methods: ``client_secret_basic`` (Basic header, both halves form-urldecoded, §2.3.1 and
Appendix B), ``client_secret_post`` (body; the query too unless strict, docs/decisions.md §2),
``none`` for public clients, and ``private_key_jwt`` (a signed client assertion, RFC 7523
§2.2, verified by oauth/client_assertion.py) for apps registered with keys. A request may use
only one method (§2.3), and an app uses the kind of credential it was registered with: an app
with keys cannot send a secret, an app with a secret cannot send an assertion. An unknown client
and a wrong secret give the same answer.

Failed attempts are limited per client and address (§2.3.1: "MUST protect … against brute
force attacks"), keyed on the client id the request claims however it sent it, and each one
is an audit event (RFC 6819 §5.1.4.2.3).
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import unquote_plus

from frontdesk import events
from frontdesk.oauth.client_assertion import (
    JWT_BEARER,
    PRIVATE_KEY_JWT,
    ClientAssertions,
    UnverifiedAssertion,
)
from frontdesk.oauth.errors import InvalidClient, InvalidRequest, wait_in_words
from frontdesk.oauth.models import Client
from frontdesk.oauth.request import OAuthRequest, Params
from frontdesk.oauth.storage import ClientStore, EventStore, Limiter

log = logging.getLogger("frontdesk.oauth")

FAILED = "client authentication failed"


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str | None
    method: str  # client_secret_basic | client_secret_post | none | private_key_jwt
    assertion: UnverifiedAssertion | None = None


def parse_basic(header: str) -> tuple[str, str]:
    """Decode ``Basic base64(urlencode(id):urlencode(secret))`` (RFC 6749 §2.3.1)."""
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        raise InvalidClient(FAILED)
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError) as exc:  # ValueError: non-ASCII text (UnicodeDecodeError too)
        raise InvalidClient("malformed Basic credentials", used_basic=True) from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise InvalidClient("malformed Basic credentials", used_basic=True)
    return unquote_plus(client_id), unquote_plus(secret)


def extract_assertion(request: OAuthRequest, params: Params) -> Credentials:
    """RFC 7521 §4.2 / RFC 7523 §2.2: ``client_assertion_type`` and ``client_assertion``; the
    client is the assertion's ``sub`` (``client_id``, when sent too, must match it)."""
    header = request.header("authorization")
    if (header and header.strip().lower().startswith("basic")) or params.get("client_secret") is not None:
        raise InvalidRequest("use one client authentication method, not a client_assertion and a secret")
    kind = params.get("client_assertion_type")
    raw = params.get("client_assertion")
    if kind != JWT_BEARER:
        raise InvalidClient(f"client_assertion_type must be {JWT_BEARER}")
    if not raw:
        raise InvalidClient("missing parameter 'client_assertion'")
    assertion = UnverifiedAssertion.parse(raw)
    sub = assertion.claims.get("sub")
    client_id = sub if isinstance(sub, str) else ""
    body_id = params.get("client_id")
    if body_id is not None and body_id != client_id:
        raise InvalidClient("client_id differs from the client_assertion's 'sub'")
    return Credentials(client_id, None, PRIVATE_KEY_JWT, assertion)


def _asserted(params: Params) -> bool:
    return "client_assertion_type" in params or "client_assertion" in params


def extract(request: OAuthRequest, params: Params) -> Credentials:
    if _asserted(params):
        return extract_assertion(request, params)
    header = request.header("authorization")
    body_id = params.get("client_id")
    body_secret = params.get("client_secret")
    if header and header.strip().lower().startswith("basic"):
        if body_secret is not None:
            raise InvalidRequest("use one client authentication method, not Basic and client_secret together")
        client_id, secret = parse_basic(header)
        if body_id is not None and body_id != client_id:
            raise InvalidRequest("client_id differs from the Basic credentials")
        return Credentials(client_id, secret, "client_secret_basic")
    if body_id is None:
        raise InvalidClient("client authentication required: send client_id and client_secret")
    if body_secret is None:
        return Credentials(body_id, None, "none")
    return Credentials(body_id, body_secret, "client_secret_post")


async def verify(
    store: ClientStore, creds: Credentials, issuer: str = "", assertions: ClientAssertions | None = None
) -> Client:
    """The client the extracted credentials prove, or ``invalid_client``."""
    basic = creds.method == "client_secret_basic"
    client = await store.get_client(creds.client_id)
    if client is None:
        raise InvalidClient(FAILED, used_basic=basic)
    if client.fapi and client.token_endpoint_auth_method != PRIVATE_KEY_JWT:
        # FAPI 2.0 Security Profile §5.3.3.4 (and FRONTDESK_FAPI2 for every app): keys only.
        raise InvalidClient("the FAPI 2.0 profile requires private_key_jwt", used_basic=basic)
    if creds.assertion is not None:
        if client.token_endpoint_auth_method != PRIVATE_KEY_JWT:
            raise InvalidClient("this client is not registered for private_key_jwt")
        if assertions is None:
            raise InvalidClient("private_key_jwt is not accepted here")
        await assertions.verify(client, creds.assertion, issuer)
        return client
    if client.token_endpoint_auth_method == PRIVATE_KEY_JWT:
        # RFC 7591 §2: the app registered keys; no secret (nor none) authenticates it.
        raise InvalidClient("this client authenticates with private_key_jwt", used_basic=basic)
    if client.public:
        # A public client has no secret to check; sending one is a mistake we refuse.
        if creds.client_secret:
            raise InvalidClient(FAILED, used_basic=basic)
        return client
    if creds.client_secret is None or not await store.check_client_secret(client, creds.client_secret):
        raise InvalidClient(FAILED, used_basic=basic)
    return client


class ClientAuthStore(ClientStore, EventStore, Protocol):
    """What authenticating a client reads and writes."""


def claimed_client_id(request: OAuthRequest, params: Params) -> str:
    """The client id a request claims, from the Basic header, the parameters or a client
    assertion's ``sub``, even when the credentials are malformed otherwise: what failures are
    counted against."""
    header = request.header("authorization")
    if header and header.strip().lower().startswith("basic"):
        try:
            return parse_basic(header)[0]
        except InvalidClient:
            pass
    try:
        claimed = params.get("client_id")
        if claimed is None and _asserted(params):
            raw = params.get("client_assertion") or ""
            sub = UnverifiedAssertion.parse(raw).claims.get("sub")
            claimed = sub[:200] if isinstance(sub, str) else None
        return claimed or ""
    except (InvalidRequest, InvalidClient):
        return ""


async def authenticate_client(
    request: OAuthRequest,
    params: Params,
    store: ClientAuthStore,
    limiter: Limiter | None,
    assertions: ClientAssertions | None = None,
) -> Client:
    """The authenticated client, or ``invalid_client`` (401; 429 while throttled).
    ``assertions`` verifies ``private_key_jwt`` (RFC 7523); without it only secrets work."""
    claimed = claimed_client_id(request, params)
    keys = {"client": claimed, "address": request.client_ip}
    if limiter is not None:
        wait = await limiter.attempt(keys)
        if wait is not None:
            log.warning(
                "client authentication throttled for client %r from %s", claimed[:64], request.client_ip
            )
            raise InvalidClient(
                f"too many failed attempts; try again in {wait_in_words(wait)}",
                status_code=429,
                retry_after=wait,
            )
    # A malformed set of credentials fails here, after the throttle check, exactly where
    # verifying them would have failed.
    try:
        client = await verify(store, extract(request, params), request.issuer, assertions)
    except InvalidClient as exc:
        if limiter is not None:
            await limiter.failed(keys)
        known = await store.get_client(claimed) if claimed else None
        await store.record_event(
            events.CLIENT_AUTH_FAILED,
            app_id=known.client_id if known else None,
            ip=request.client_ip,
            detail={"client_id": events.claimed(claimed)},
        )
        exc.persist = True  # the audit event outlives the failed request
        raise
    if limiter is not None:
        await limiter.succeeded(keys)
    if client.fapi and request.query:
        # FAPI 2.0: parameters only in the body (strict mode's rule, docs/decisions.md §2).
        raise InvalidRequest("the FAPI 2.0 profile accepts parameters in the request body only")
    return client
