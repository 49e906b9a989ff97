"""The sans-IO machinery shared by the sync and async clients.

Every operation is written once, as a generator that *yields commands* and *receives their
outcomes*; it never touches a socket, a clock it sleeps on or a lock. A driver
(:mod:`frontdesk.client._drivers`) executes the commands with ``httpx.Client`` and
``time.sleep`` or with ``httpx.AsyncClient`` and ``asyncio.sleep``:

* :class:`Send` — send this ``httpx.Request``; the outcome is the ``httpx.Response`` (body
  read) or the ``httpx.TransportError`` it failed with;
* :class:`Sleep` — wait; the outcome is ``None``;
* :class:`Call` — call an application callback (awaited when it returns an awaitable);
* :class:`Exclusive` — run a sub-operation while holding the client's lock (token refresh).

Operations compose with ``yield from``.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

import httpx

from frontdesk.client.config import IDEMPOTENT_METHODS, HttpOptions, RetryPolicy
from frontdesk.client.errors import (
    OAUTH_ERRORS,
    ApiError,
    Forbidden,
    FrontdeskError,
    InsufficientScope,
    InvalidToken,
    NotFound,
    OAuthError,
    ProtocolError,
    RateLimited,
    ServerError,
    TransportError,
)

T = TypeVar("T")


@dataclass(frozen=True)
class Send:
    request: httpx.Request


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Call:
    callback: Callable[[Any], Any]
    argument: Any


@dataclass(frozen=True)
class Exclusive:
    operation: Op[Any]


Command: TypeAlias = Send | Sleep | Call | Exclusive
Outcome: TypeAlias = Any  # httpx.Response | httpx.TransportError | None | the Exclusive op's result
Op: TypeAlias = Generator[Command, Outcome, T]

RETRY_STATUSES = frozenset({502, 503, 504})
RETRY_AFTER_STATUSES = frozenset({429, 503})
# Transport failures worth another try for an idempotent request (not e.g. a bad URL scheme).
RETRYABLE_TRANSPORT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)


# ---- requests ---------------------------------------------------------------------------------


def build_request(
    http: HttpOptions,
    method: str,
    url: str,
    *,
    params: Mapping[str, str] | None = None,
    data: Mapping[str, str] | None = None,
    json_body: Any = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Request:
    """An ``httpx.Request`` with the client's user agent, ``Accept`` and timeout."""
    merged = {"user-agent": http.user_agent, "accept": "application/json"}
    merged.update(headers or {})
    kwargs: dict[str, Any] = {}
    if data is not None:
        kwargs["data"] = dict(data)
    if json_body is not None:
        kwargs["json"] = json_body
    return httpx.Request(
        method,
        url,
        params=dict(params) if params else None,
        headers=merged,
        extensions={"timeout": http.httpx_timeout.as_dict()},
        **kwargs,
    )


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` (RFC 9110 §10.2.3): delay-seconds or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def retry_delay(policy: RetryPolicy, method: str, attempt: int, outcome: Outcome) -> float | None:
    """How long to wait before sending again, or None to stop (pure; the heart of retries)."""
    if method.upper() not in IDEMPOTENT_METHODS or attempt >= policy.retries:
        return None
    if isinstance(outcome, httpx.TransportError):
        return policy.delay(attempt) if isinstance(outcome, RETRYABLE_TRANSPORT_ERRORS) else None
    if not isinstance(outcome, httpx.Response):
        return None
    status = outcome.status_code
    if status not in RETRY_STATUSES and status != 429:
        return None
    wait = retry_after_seconds(outcome.headers.get("retry-after")) if status in RETRY_AFTER_STATUSES else None
    if wait is None:
        return None if status == 429 else policy.delay(attempt)
    if wait > policy.max_retry_after:
        return None
    return max(wait, policy.delay(attempt))


def send(http: HttpOptions, request: httpx.Request) -> Op[httpx.Response]:
    """Send ``request``, retrying as :class:`RetryPolicy` allows; never raises on a status."""
    attempt = 0
    while True:
        outcome = yield Send(request)
        delay = retry_delay(http.retry, request.method, attempt, outcome)
        if delay is None:
            if isinstance(outcome, httpx.TransportError):
                raise TransportError(f"{request.method} {request.url}: {outcome!r}") from outcome
            if not isinstance(outcome, httpx.Response):
                raise TypeError(f"a driver answered Send with {outcome!r}")
            return outcome
        attempt += 1
        yield Sleep(delay)


# ---- responses --------------------------------------------------------------------------------


def parse_json(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError as exc:
        raise ProtocolError(
            f"{response.request.method} {response.request.url} answered {response.status_code} "
            "with a body that is not JSON"
        ) from exc


_AUTH_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')


def parse_bearer_challenge(header: str | None) -> dict[str, str]:
    """The parameters of a ``WWW-Authenticate: Bearer …`` challenge (RFC 6750 §3).

    >>> parse_bearer_challenge('Bearer realm="x", error="invalid_token", error_description="gone"')
    {'realm': 'x', 'error': 'invalid_token', 'error_description': 'gone'}
    """
    if not header:
        return {}
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return {}
    params: dict[str, str] = {}
    pos = 0
    while pos < len(rest):
        match = _AUTH_PARAM.match(rest, pos)
        if not match or match.end() == pos:
            break
        name, quoted, token = match.groups()
        value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else token
        params[name.lower()] = value
        pos = match.end()
    return params


def _body(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content) if response.content else None
    except ValueError:
        return response.text


def error_for(response: httpx.Response, *, oauth_endpoint: bool = False) -> FrontdeskError:
    """The typed error for an error answer.

    ``oauth_endpoint``: the answer came from the token, revocation or introspection endpoint,
    whose 4xx bodies are RFC 6749 §5.2 errors."""
    status = response.status_code
    body = _body(response)
    fields = body if isinstance(body, Mapping) else {}
    error = fields.get("error") if isinstance(fields.get("error"), str) else None
    description = fields.get("error_description")
    description = description if isinstance(description, str) else None
    kw: dict[str, Any] = {"body": body, "response": response}
    if status == 429:
        retry_after = retry_after_seconds(response.headers.get("retry-after"))
        return RateLimited(status, error, description, retry_after=retry_after, **kw)
    if status >= 500:
        return ServerError(status, error, description, **kw)
    challenge = parse_bearer_challenge(response.headers.get("www-authenticate"))
    if not oauth_endpoint and status in (401, 403) and (challenge or status == 401):
        code = challenge.get("error") or error or ("invalid_token" if status == 401 else "insufficient_scope")
        text = challenge.get("error_description") or description
        if code == "insufficient_scope":
            return InsufficientScope(code, text, status, scope=challenge.get("scope"), **kw)
        if status == 401:
            return InvalidToken(code, text, status, **kw)
        return OAuthError(code, text, status, **kw)
    if oauth_endpoint and error is not None and 400 <= status < 500:
        cls = OAUTH_ERRORS.get(error, OAuthError)
        return cls(error, description, status, **kw)
    if status == 404:
        return NotFound(status, error, description, **kw)
    if status == 403:
        return Forbidden(status, error, description, **kw)
    return ApiError(status, error, description, **kw)


def expect(response: httpx.Response, *statuses: int, oauth_endpoint: bool = False) -> httpx.Response:
    """Raise the typed error unless the status is one of ``statuses`` (default: any 2xx)."""
    ok = response.status_code in statuses if statuses else 200 <= response.status_code < 300
    if not ok:
        raise error_for(response, oauth_endpoint=oauth_endpoint)
    return response


def request_json(http: HttpOptions, request: httpx.Request, *, oauth_endpoint: bool = False) -> Op[Any]:
    """Send, check the status, parse the JSON body (None for an empty 2xx body)."""
    response = yield from send(http, request)
    expect(response, oauth_endpoint=oauth_endpoint)
    if response.status_code == 204 or not response.content:
        return None
    return parse_json(response)
