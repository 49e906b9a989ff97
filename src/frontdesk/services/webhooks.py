"""Webhook endpoints and their deliveries (docs/integrating.md, "Webhooks").

Endpoints are a space's subscriptions, made by its apps through Cobot's
``<space>/api/subscriptions`` (one event each), or the operator's (any events, every space;
``frontdesk webhooks add``). Each has its own signing secret (``whsec_…``, Standard Webhooks),
sealed with the server secret. Messages are written by the audit recorder into the outbox
(:mod:`frontdesk.store.webhooks`) and sent by :mod:`frontdesk.webhook_worker` through
:func:`deliver`, which refuses private destinations after resolving the host, at send time.

Like every service, these functions stage work in the caller's session and never commit.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import secrets
import socket
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks.webhooks import Webhook

from frontdesk import events
from frontdesk.errors import Conflict, FieldError, NotFound
from frontdesk.i18n import N_
from frontdesk.oauth.web_urls import WebUrlError, normalize_web_url
from frontdesk.security.randoms import new_id
from frontdesk.security.server_secret import ServerSecret
from frontdesk.services import spaces
from frontdesk.settings import Settings
from frontdesk.store import webhooks as outbox
from frontdesk.store.models import WebhookEndpoint, WebhookMessage
from frontdesk.store.types import utcnow

if TYPE_CHECKING:
    import httpx

SECRET_PREFIX: Final = "whsec_"
USER_AGENT: Final = "Frontdesk-Webhooks/1"
EVENT_TYPES: Final = events.WEBHOOK_EVENT_TYPES
# Cobot's subscription event names (its webhooks API) that Frontdesk honours, and what each
# one means (store/webhooks.py narrows deliveries by the name a subscription was made with).
COBOT_EVENTS: Final = outbox.COBOT_EVENTS
# What a space's apps may subscribe to: events that carry that space's id.
SPACE_EVENT_TYPES: Final = frozenset(
    {
        "membership.created",
        "membership.changed",
        "membership.removed",
        "consent.granted",
        "consent.revoked",
        "token.issued",
        "token.revoked",
        "security.code_replayed",
        "security.refresh_token_reused",
    }
)


@dataclass(frozen=True, slots=True)
class EndpointRecord:
    id: str
    url: str
    event_types: tuple[str, ...]
    subscribed_as: str | None
    space_id: str | None
    app_id: str | None
    description: str
    active: bool
    disabled_at: datetime | None
    disabled_reason: str | None
    failing_since: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    seq: int
    message_id: str
    endpoint_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    last_error: str | None
    response_status: int | None
    delivered_at: datetime | None
    created_at: datetime


def _record(row: WebhookEndpoint, server_secret: ServerSecret) -> EndpointRecord:
    return EndpointRecord(
        id=row.id,
        url=reveal_url(server_secret, row.id, row.url_sealed),
        event_types=tuple(row.event_types or ()),
        subscribed_as=row.subscribed_as,
        space_id=row.space_id,
        app_id=row.app_id,
        description=row.description,
        active=row.active,
        disabled_at=row.disabled_at,
        disabled_reason=row.disabled_reason,
        failing_since=row.failing_since,
        created_at=row.created_at,
    )


def _delivery(row: WebhookMessage) -> DeliveryRecord:
    return DeliveryRecord(
        seq=row.seq,
        message_id=row.message_id,
        endpoint_id=row.endpoint_id,
        event_type=row.event_type,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_attempt_at=row.last_attempt_at,
        last_error=row.last_error,
        response_status=row.response_status,
        delivered_at=row.delivered_at,
        created_at=row.created_at,
    )


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _context(endpoint_id: str) -> str:
    return f"webhook-secret:{endpoint_id}"


def reveal_secret(server_secret: ServerSecret, endpoint_id: str, sealed: str) -> str:
    return server_secret.decrypt(sealed, _context(endpoint_id))


# The callback URL is sealed and digested like a secret: apps put their own secret into it (a
# Cobot app's per-space secret in the query). Migration 0013 seals existing rows the same way.
def _url_context(endpoint_id: str) -> str:
    return f"webhook-url:{endpoint_id}"


def seal_url(server_secret: ServerSecret, endpoint_id: str, url: str) -> str:
    return server_secret.encrypt(url, _url_context(endpoint_id))


def reveal_url(server_secret: ServerSecret, endpoint_id: str, sealed: str) -> str:
    return server_secret.decrypt(sealed, _url_context(endpoint_id))


def url_digest(server_secret: ServerSecret, url: str) -> str:
    """The keyed digest stored beside the sealed URL, to find an endpoint by its URL."""
    return server_secret.digest(f"webhook-url:{url}")


def clean_url(raw: str, settings: Settings) -> str:
    allow_http = settings.webhooks_allow_private or settings.env == "development"
    try:
        return normalize_web_url(raw, allow_http=allow_http)
    except WebUrlError as exc:
        raise FieldError("callback_url", exc.args[0]) from exc


def event_type_of(name: str) -> str | None:
    """Our event type for a name a subscriber sent (ours, or Cobot's)."""
    name = (name or "").strip()
    if name in EVENT_TYPES:
        return name
    cobot = COBOT_EVENTS.get(name)
    return cobot.event_type if cobot is not None else None


def _narrowing(name: str | None) -> tuple[str | None, bool]:
    """What a subscription's name narrows its event type to (nothing for our own names)."""
    cobot = COBOT_EVENTS.get(name or "")
    return (cobot.change, cobot.connected) if cobot is not None else (None, False)


def accepted_names(*, space: bool) -> list[str]:
    """The event names an endpoint can be made with: a space's subscriptions take its events'
    types and Cobot's names; the operator's endpoints take every type."""
    if not space:
        return list(EVENT_TYPES)
    return [t for t in EVENT_TYPES if t in SPACE_EVENT_TYPES] + list(COBOT_EVENTS)


def _narrowed(name: str) -> bool:
    return _narrowing(name) != (None, False)


def clean_event_types(names: list[str] | tuple[str, ...], *, space: bool = False) -> list[str]:
    cleaned: list[str] = []
    for name in names:
        name = name.strip()
        if name == outbox.ALL:
            return [outbox.ALL]
        known = event_type_of(name)
        if known is None or (not space and _narrowed(name)):
            # A narrowed Cobot name means only some events of its type: that takes a space's
            # subscription (one event, the name stored as ``subscribed_as``).
            accepted = ", ".join(accepted_names(space=space))
            raise FieldError(
                "event", N_("unknown event {name}; accepted: {accepted}"), name=repr(name), accepted=accepted
            )
        if known not in cleaned:
            cleaned.append(known)
    if not cleaned:
        raise FieldError("event", N_("name at least one event"))
    return cleaned


async def create_endpoint(
    db: AsyncSession,
    server_secret: ServerSecret,
    settings: Settings,
    *,
    url: str,
    event_types: list[str],
    space_id: str | None = None,
    app_id: str | None = None,
    created_by: str | None = None,
    subscribed_as: str | None = None,
    description: str = "",
) -> tuple[EndpointRecord, str]:
    """Register an endpoint; returns it and its signing secret (shown to its maker). A space's
    subscription made with a Cobot name (``subscribed_as``) hears only what that name means
    (store/webhooks.py COBOT_EVENTS); the same app subscribing the same URL to what means the
    same again is a Conflict (Cobot's 409)."""
    url = clean_url(url, settings)
    types = clean_event_types(event_types, space=space_id is not None)
    if any(_narrowed(name.strip()) and name.strip() != subscribed_as for name in event_types):
        # Only the stored name narrows the deliveries (store/webhooks.py Route.wants).
        raise FieldError("event", N_("subscribe to one of Cobot's narrower events by itself"))
    digest = url_digest(server_secret, url)
    if space_id is not None:
        cobot = COBOT_EVENTS.get(subscribed_as or "")
        # Cobot's user event means a person connected to the app in this space.
        outside = [t for t in types if t not in SPACE_EVENT_TYPES and not (cobot and cobot.connected)]
        if outside:
            accepted = ", ".join(accepted_names(space=True))
            raise FieldError(
                "event",
                N_("not an event of a space: {names}; accepted: {accepted}"),
                names=", ".join(outside),
                accepted=accepted,
            )
        existing = await db.execute(
            select(WebhookEndpoint.event_types, WebhookEndpoint.subscribed_as).where(
                WebhookEndpoint.space_id == space_id,
                WebhookEndpoint.app_id == app_id,
                WebhookEndpoint.url_digest == digest,
            )
        )
        if any(
            list(other) == types and _narrowing(name) == _narrowing(subscribed_as) for other, name in existing
        ):
            raise Conflict("this app already subscribed this callback_url to this event")
    secret = new_secret()
    endpoint_id = new_id()
    row = WebhookEndpoint(
        id=endpoint_id,
        space_id=space_id,
        app_id=app_id,
        created_by=created_by,
        url_sealed=seal_url(server_secret, endpoint_id, url),
        url_digest=digest,
        event_types=types,
        subscribed_as=subscribed_as,
        description=(description or "")[:200],
        active=True,
        secret_sealed=server_secret.encrypt(secret, _context(endpoint_id)),
    )
    db.add(row)
    await db.flush()
    return _record(row, server_secret), secret


async def list_endpoints(
    db: AsyncSession,
    server_secret: ServerSecret,
    *,
    space_id: str | None = None,
    app_id: str | None = None,
    operator: bool = False,
) -> list[EndpointRecord]:
    query = select(WebhookEndpoint).order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    if operator:
        query = query.where(WebhookEndpoint.space_id.is_(None))
    if space_id is not None:
        query = query.where(WebhookEndpoint.space_id == space_id)
    if app_id is not None:
        query = query.where(WebhookEndpoint.app_id == app_id)
    return [_record(row, server_secret) for row in (await db.execute(query)).scalars()]


async def _endpoint_row(db: AsyncSession, endpoint_id: str) -> WebhookEndpoint:
    row = await db.get(WebhookEndpoint, endpoint_id) if endpoint_id and len(endpoint_id) <= 64 else None
    if row is None:
        raise NotFound("no such webhook endpoint")
    return row


async def get_endpoint(db: AsyncSession, server_secret: ServerSecret, endpoint_id: str) -> EndpointRecord:
    return _record(await _endpoint_row(db, endpoint_id), server_secret)


async def remove_endpoint(
    db: AsyncSession, endpoint_id: str, *, space_id: str | None = None, app_id: str | None = None
) -> None:
    """Delete an endpoint and its log; with ``space_id``/``app_id`` only that app's in that space."""
    found = await _endpoint_row(db, endpoint_id)
    if space_id is not None and (found.space_id != space_id or found.app_id != app_id):
        raise NotFound("no such subscription of this app in this space")
    await db.execute(delete(WebhookMessage).where(WebhookMessage.endpoint_id == endpoint_id))
    await db.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))


async def set_active(
    db: AsyncSession, server_secret: ServerSecret, endpoint_id: str, active: bool
) -> EndpointRecord:
    row = await db.get(WebhookEndpoint, endpoint_id)
    if row is None:
        raise NotFound("no such webhook endpoint")
    row.active = active
    if active:
        row.disabled_at = None
        row.disabled_reason = None
        row.failing_since = None
    else:
        row.disabled_at = utcnow()
        row.disabled_reason = "disabled by the operator"
    await db.flush()
    return _record(row, server_secret)


async def deliveries(
    db: AsyncSession, *, endpoint_id: str | None = None, app_id: str | None = None, limit: int = 50
) -> list[DeliveryRecord]:
    """The newest messages first: to one endpoint, or to every endpoint of one app."""
    query = select(WebhookMessage).order_by(WebhookMessage.seq.desc()).limit(max(1, min(limit, 500)))
    if endpoint_id is not None:
        query = query.where(WebhookMessage.endpoint_id == endpoint_id)
    if app_id is not None:
        query = query.join(WebhookEndpoint, WebhookEndpoint.id == WebhookMessage.endpoint_id).where(
            WebhookEndpoint.app_id == app_id
        )
    return [_delivery(row) for row in (await db.execute(query)).scalars()]


async def resend(db: AsyncSession, seq: int, *, app_id: str | None = None) -> DeliveryRecord:
    """Send a message again (the same ``webhook-id`` and body), after the endpoint's queue."""
    row = await db.get(WebhookMessage, seq)
    if row is None:
        raise NotFound("no such delivery")
    if app_id is not None:
        endpoint = await db.get(WebhookEndpoint, row.endpoint_id)
        if endpoint is None or endpoint.app_id != app_id:
            raise NotFound("no such delivery of this app")
    now = utcnow()
    again = WebhookMessage(
        message_id=row.message_id,
        endpoint_id=row.endpoint_id,
        event_type=row.event_type,
        payload=row.payload,
        status=outbox.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    db.add(again)
    await db.flush()
    return _delivery(again)


# ---- sending ---------------------------------------------------------------------------------


class Refused(Exception):
    """The destination is not allowed (a private address) or not reachable at all."""


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    status: int | None
    error: str | None
    gone: bool = False  # 410: the receiver asks to stop (Cobot deactivates, so do we)


NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052 §2.1


def allowed_address(address: str) -> bool:
    """Public unicast only: no private, loopback, link-local, shared, reserved, multicast or
    unspecified address. An IPv6 address that carries an IPv4 one (IPv4-mapped, 6to4 per
    RFC 3056, NAT64 per RFC 6052, Teredo per RFC 4380) is judged by that IPv4 address too."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = [ip.ipv4_mapped, ip.sixtofour]
        if ip in NAT64:
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if ip.teredo is not None:
            embedded.extend(ip.teredo)
        if any(inner is not None and not allowed_address(str(inner)) for inner in embedded):
            return False
        if ip.ipv4_mapped is not None:
            return True
    return ip.is_global and not ip.is_multicast


async def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to now (an IP literal: itself)."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise Refused(f"cannot resolve the host: {exc.strerror or exc}") from exc
    seen: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in seen:
            seen.append(address)
    return seen


async def checked_addresses(host: str, port: int, *, allow_private: bool) -> list[str]:
    """The addresses to connect to; refuses the destination when any of them is private
    (a name that also resolves to an internal address is refused whole)."""
    addresses = await resolve(host, port)
    if not addresses:
        raise Refused("the host has no address")
    if not allow_private:
        bad = [a for a in addresses if not allowed_address(a)]
        if bad:
            raise Refused(
                f"refused: the host resolves to a private, loopback or link-local address ({bad[0]}); "
                "set FRONTDESK_WEBHOOKS_ALLOW_PRIVATE=true to allow it (development only)"
            )
    return addresses


def sign(secret: str, message_id: str, timestamp: datetime, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, timestamp, body),
    }


def resource_url(settings: Settings, subdomain: str, payload: dict[str, Any]) -> str:
    """Cobot's ``url`` of a delivery: where the subscribing app GETs the changed resource with
    its token (Cobot's webhooks API sends only this). A membership event points at the
    membership on the space's host (for ``membership.removed`` the address it had, which the
    receiver can match against the ``link`` it stored); an event about a person at that person
    (``GET /api/users/<id>`` on the space's host: ``connected_user``); anything else at the
    space."""
    data = payload.get("data") or {}
    membership_id = data.get("membership_id")
    if str(payload.get("type", "")).startswith("membership.") and isinstance(membership_id, str):
        return spaces.membership_api_url(settings, subdomain, membership_id)
    user_id = data.get("user_id")
    if isinstance(user_id, str):
        return spaces.user_api_url(settings, subdomain, user_id)
    return f"{settings.public_url}/api/spaces/{subdomain}"


def cobot_body(settings: Settings, subdomain: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The message for a subscription made through Cobot's API: Cobot's ``url`` beside the
    Standard Webhooks envelope (``type``, ``timestamp``, ``data``). Built at send time from the
    stored message, so every attempt and "send again" send the same body."""
    return {"url": resource_url(settings, subdomain, payload), **payload}


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


async def deliver(
    client: httpx.AsyncClient,
    *,
    url: str,
    secret: str,
    message_id: str,
    payload: dict[str, Any],
    timeout_seconds: float,
    allow_private: bool,
) -> Outcome:
    """One delivery attempt of a webhook message: its JSON body, signed (Standard Webhooks),
    POSTed by :func:`post_checked`; a ``410`` also says the receiver is gone."""
    body = body_of(payload)
    headers = {"content-type": "application/json", **sign(secret, message_id, utcnow(), body)}
    outcome = await post_checked(
        client, url, body, headers, timeout_seconds=timeout_seconds, allow_private=allow_private
    )
    return replace(outcome, gone=True) if outcome.status == 410 else outcome


async def post_checked(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout_seconds: float,
    allow_private: bool,
    user_agent: str = USER_AGENT,
) -> Outcome:
    """One POST to a URL someone else registered (webhooks, back-channel logout), through
    :func:`send_checked`. A 2xx answer is a delivery; anything else, or no answer in
    ``timeout_seconds``, is a failure."""
    answer = await send_checked(
        client,
        "POST",
        url,
        headers,
        content=body,
        timeout_seconds=timeout_seconds,
        allow_private=allow_private,
        user_agent=user_agent,
    )
    return answer.outcome


@dataclass(frozen=True, slots=True)
class Answer:
    """What :func:`send_checked` got: the outcome, and the body when it was asked to read one."""

    outcome: Outcome
    body: bytes = b""


async def send_checked(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    headers: dict[str, str],
    *,
    content: bytes | None = None,
    timeout_seconds: float,
    allow_private: bool,
    user_agent: str = USER_AGENT,
    read_limit: int = 0,
) -> Answer:
    """One request to a URL someone else registered (webhooks, back-channel logout, an app's
    ``jwks_uri``): resolve, check every address, connect to a checked address (the URL's host
    stays in ``Host`` and in TLS SNI and certificate checks), never follow redirects. With
    ``read_limit`` the body of a 2xx answer is read, and an answer longer than that is a
    failure. No answer in ``timeout_seconds`` is a failure."""
    import httpx  # on the first delivery (tests/web/test_lazy_imports.py)

    target = httpx.URL(url)
    host = target.raw_host.decode("ascii")  # the IDNA (ASCII) name: what DNS and SNI see
    port = target.port or (443 if target.scheme == "https" else 80)
    try:
        addresses = await checked_addresses(host, port, allow_private=allow_private)
    except Refused as exc:
        return Answer(Outcome(False, None, str(exc)))
    headers = {**headers, "user-agent": user_agent, "host": target.netloc.decode("ascii")}
    extensions = {"sni_hostname": host} if target.scheme == "https" else {}
    last_error = "no address could be reached"
    for address in addresses:
        body = b""
        try:
            async with asyncio.timeout(timeout_seconds * 2):
                async with client.stream(
                    method,
                    target.copy_with(host=address),
                    content=content,
                    headers=headers,
                    extensions=extensions,
                    timeout=timeout_seconds,
                ) as response:
                    status = response.status_code
                    if read_limit and 200 <= status < 300:
                        chunks: list[bytes] = []
                        size = 0
                        async for chunk in response.aiter_bytes():
                            size += len(chunk)
                            if size > read_limit:
                                return Answer(
                                    Outcome(False, status, f"the answer is larger than {read_limit} bytes")
                                )
                            chunks.append(chunk)
                        body = b"".join(chunks)
        except httpx.ConnectError as exc:
            last_error = f"could not connect: {_reason(exc)}"
            continue
        except (httpx.TimeoutException, TimeoutError):
            return Answer(Outcome(False, None, f"no answer within {timeout_seconds:g} seconds"))
        except httpx.HTTPError as exc:
            return Answer(Outcome(False, None, f"{type(exc).__name__}: {_reason(exc)}"))
        if 200 <= status < 300:
            return Answer(Outcome(True, status, None), body)
        return Answer(Outcome(False, status, f"answered HTTP {status}"))
    return Answer(Outcome(False, None, last_error))


def _reason(exc: Exception) -> str:
    # Never the URL: a callback URL may carry the receiver's own secret (Cobot's habit).
    text = str(exc) or type(exc).__name__
    return text.split(" for url ", 1)[0][:200]
