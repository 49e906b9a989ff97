"""Client authentication (RFC 6749 §2.3), the one way the token, revocation (RFC 7009 §2.1)
and introspection (RFC 7662 §2.1) endpoints authenticate the calling client.

Methods: ``client_secret_basic`` (Basic header, both halves form-urldecoded, §2.3.1 and
Appendix B), ``client_secret_post`` (body; the query too unless strict, docs/decisions.md §2),
and ``none`` for public clients. A request may use only one method (§2.3). An unknown client
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
    method: str  # client_secret_basic | client_secret_post | none


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


def extract(request: OAuthRequest, params: Params) -> Credentials:
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


async def verify(store: ClientStore, creds: Credentials) -> Client:
    """The client the extracted credentials prove, or ``invalid_client``."""
    basic = creds.method == "client_secret_basic"
    client = await store.get_client(creds.client_id)
    if client is None:
        raise InvalidClient(FAILED, used_basic=basic)
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
    """The client id a request claims, from the Basic header or the parameters, even when the
    credentials are malformed otherwise: what failures are counted against."""
    header = request.header("authorization")
    if header and header.strip().lower().startswith("basic"):
        try:
            return parse_basic(header)[0]
        except InvalidClient:
            pass
    try:
        return params.get("client_id") or ""
    except InvalidRequest:
        return ""


async def authenticate_client(
    request: OAuthRequest, params: Params, store: ClientAuthStore, limiter: Limiter | None
) -> Client:
    """The authenticated client, or ``invalid_client`` (401; 429 while throttled)."""
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
        client = await verify(store, extract(request, params))
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
    return client
