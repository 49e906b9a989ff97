"""The public keys of ``private_key_jwt`` apps (RFC 7523 §2.2): registered inline (``jwks``) or
fetched from the app's ``jwks_uri`` (RFC 7591 §2).

:class:`ClientKeys` implements :class:`frontdesk.oauth.storage.ClientKeyStore` (client
assertions in oauth/client_assertion.py, request objects of pushed authorization requests)
and ``refresh_client_keys`` (oauth/client_assertion.RefreshingKeyStore).

A ``jwks_uri`` is fetched with the address-checked sender of webhooks
(:func:`frontdesk.services.webhooks.send_checked`: every resolved address must be public unless
``FRONTDESK_WEBHOOKS_ALLOW_PRIVATE``, no redirects, no proxies from the environment), ``https``
only outside development, within a timeout, at most :data:`MAX_BYTES`, and checked like a
registered set (oauth/client_keys.py: public asymmetric signing keys only). Each server process
keeps what it fetched for ``FRONTDESK_CLIENT_JWKS_CACHE_SECONDS``; a failed fetch keeps serving
the last good set (and is tried again after :data:`RETRY_SECONDS`). An assertion naming a key id
the set lacks fetches it again at once (the app rotated its keys), at most once per
:data:`REFRESH_SECONDS` per URL, so unknown key ids cannot make the server hammer the app.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from frontdesk.oauth.client_keys import KeySetError, clean_key_set
from frontdesk.oauth.models import Client
from frontdesk.services.webhooks import send_checked
from frontdesk.settings import Settings

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("frontdesk.client_keys")

USER_AGENT: Final = "Frontdesk-JWKS/1"
MAX_BYTES: Final = 64 * 1024
REFRESH_SECONDS: Final = 60.0
RETRY_SECONDS: Final = 30.0
MAX_ENTRIES: Final = 10_000


@dataclass(frozen=True, slots=True)
class _Entry:
    keys: str | None  # the last good key set (None: never fetched successfully)
    fetched_at: float  # when the last attempt ended
    ok: bool  # the last attempt succeeded


class ClientKeys:
    """Apps' key sets for verifying what they sign (see the module's docstring)."""

    def __init__(
        self,
        *,
        cache_seconds: float,
        timeout_seconds: float,
        allow_private: bool,
        allow_http: bool,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.cache_seconds = cache_seconds
        self.timeout_seconds = timeout_seconds
        self.allow_private = allow_private
        self.allow_http = allow_http
        self.clock = clock
        self.transport = transport
        self._entries: dict[str, _Entry] = {}
        self._refreshed: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> ClientKeys:
        return cls(
            cache_seconds=settings.client_jwks_cache_seconds,
            timeout_seconds=settings.client_jwks_timeout_seconds,
            allow_private=settings.webhooks_allow_private,
            allow_http=settings.webhooks_allow_private or settings.env == "development",
        )

    async def client_keys(self, client: Client) -> str | None:
        if client.jwks:
            return client.jwks
        if not client.jwks_uri:
            return None
        return await self._get(client.jwks_uri, force=False)

    async def refresh_client_keys(self, client: Client) -> str | None:
        if not client.jwks_uri:
            return client.jwks
        return await self._get(client.jwks_uri, force=True)

    def forget(self) -> None:
        """Drop every fetched set (tests; an operator's restart does the same)."""
        self._entries.clear()
        self._refreshed.clear()

    def _fresh(self, entry: _Entry | None, now: float) -> bool:
        if entry is None:
            return False
        limit = self.cache_seconds if entry.ok else min(RETRY_SECONDS, self.cache_seconds)
        return now - entry.fetched_at < limit

    async def _get(self, uri: str, *, force: bool) -> str | None:
        entry = self._entries.get(uri)
        now = self.clock()
        if force:
            if now - self._refreshed.get(uri, -REFRESH_SECONDS) < REFRESH_SECONDS:
                return entry.keys if entry else None
        elif self._fresh(entry, now):
            return entry.keys if entry else None
        lock = self._locks.setdefault(uri, asyncio.Lock())
        async with lock:
            # Another request may have fetched it while this one waited.
            entry = self._entries.get(uri)
            now = self.clock()
            if force:
                if now - self._refreshed.get(uri, -REFRESH_SECONDS) < REFRESH_SECONDS:
                    return entry.keys if entry else None
                self._refreshed[uri] = now
            elif self._fresh(entry, now):
                return entry.keys if entry else None
            keys = await self._fetch(uri)
            previous = entry.keys if entry else None
            if len(self._entries) >= MAX_ENTRIES and uri not in self._entries:
                # Bounded memory: the longest-kept URL goes (it is fetched again when needed).
                oldest = next(iter(self._entries))
                del self._entries[oldest]
                self._refreshed.pop(oldest, None)
                idle = self._locks.get(oldest)
                if idle is not None and not idle.locked():
                    del self._locks[oldest]
            self._entries[uri] = _Entry(keys or previous, self.clock(), keys is not None)
            return keys or previous

    async def _fetch(self, uri: str) -> str | None:
        """The key set at ``uri``, checked; None (logged) when it cannot be had."""
        import httpx  # on the first fetch (tests/web/test_lazy_imports.py)

        try:
            url = httpx.URL(uri)
        except httpx.InvalidURL:
            log.warning("jwks_uri is not a URL")
            return None
        if url.scheme != "https" and not (url.scheme == "http" and self.allow_http):
            log.warning("jwks_uri refused: %s://… is not https", url.scheme)
            return None
        async with httpx.AsyncClient(
            trust_env=False, follow_redirects=False, transport=self.transport
        ) as http:
            answer = await send_checked(
                http,
                "GET",
                uri,
                {"accept": "application/jwk-set+json, application/json"},
                timeout_seconds=self.timeout_seconds,
                allow_private=self.allow_private,
                user_agent=USER_AGENT,
                read_limit=MAX_BYTES,
            )
        if not answer.outcome.ok:
            log.warning("jwks_uri %s could not be fetched: %s", url.host, answer.outcome.error)
            return None
        try:
            return clean_key_set(answer.body.decode("utf-8"))
        except (KeySetError, UnicodeDecodeError) as exc:
            log.warning("jwks_uri %s holds no usable key set: %s", url.host, exc)
            return None
