"""Host-to-site resolution: the main site, a space (by subdomain or custom domain), or 404.

Runs as pure ASGI middleware before anything else. It decides, once per request:

* which peer address, scheme and host to believe (``X-Forwarded-*`` only from configured
  proxies, RFC 9700 §4.13),
* which *site* the host names. Matching is normalised (case, port, trailing dot) and there is
  no fallback: an unknown host is answered with 404 and never reaches the application.

The result is ``scope["state"]["site"]`` (a :class:`Site`) and ``scope["state"]["client_ip"]``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from frontdesk.records import SpaceRef
from frontdesk.settings import Settings


@dataclass(frozen=True, slots=True)
class Site:
    """Where a request landed. ``origin`` is the canonical URL of this host, built from
    configuration; it is the issuer of the host and the base of every absolute link."""

    host: str
    origin: str
    space: SpaceRef | None = None

    @property
    def is_main(self) -> bool:
        return self.space is None


# What a normalised host may look like at all: DNS names (IDNs in their ASCII form), IPv4 and
# IPv6 addresses.
_HOST_NAME = re.compile(r"[a-z0-9.:-]{1,253}")


def normalize_host(raw: str) -> str:
    """Lower-case, strip the port and a trailing dot. ``[::1]:8000`` becomes ``::1``."""
    host = raw.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[1:end] if end > 0 else ""
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


class SiteResolver:
    """Maps a normalised host to a :class:`Site`. ``lookup(by, value)`` finds the space of a
    subdomain (``by="subdomain"``) or custom domain (``by="domain"``), through the caching
    storage: a space's new or changed address reaches every worker like any other write."""

    def __init__(self, settings: Settings, lookup: Callable[[str, str], Awaitable[SpaceRef | None]]) -> None:
        self.settings = settings
        self._lookup_space = lookup
        self._suffix = "." + settings.base_domain
        self._main = Site(host=settings.public_host, origin=settings.public_url)

    async def resolve(self, host: str) -> Site | None:
        if host in self.settings.main_hosts:
            return self._main
        if not _HOST_NAME.fullmatch(host):
            return None  # no space can have it (and a NUL byte would reach the database)
        if host.endswith(self._suffix):
            label = host[: -len(self._suffix)]
            if not label or "." in label:
                return None
            space = await self._lookup_space("subdomain", label)
            if space is None:
                return None
            return Site(host=host, origin=self.settings.space_url(space.subdomain), space=space)
        space = await self._lookup_space("domain", host)
        if space is None:
            return None
        return Site(host=host, origin=self.settings.custom_domain_url(host), space=space)

    async def known_resource(self, resource: str) -> bool:
        """RFC 8707: is ``resource`` (canonical, oauth/resource.py) one this deployment issues
        tokens for? A host's resource is its origin exactly as its issuer says it; the operator
        may name others (``FRONTDESK_EXTRA_RESOURCES``). Asked only when a request names one."""
        if resource in self.settings.extra_resources:
            return True
        _, sep, rest = resource.partition("://")
        if not sep or "/" in rest or "?" in rest or "@" in rest:
            return False
        site = await self.resolve(normalize_host(rest))
        return site is not None and site.origin == resource

    async def space_of_resource(self, resource: str) -> str | None:
        """The space whose host ``resource`` (canonical, oauth/resource.py) names exactly as
        its issuer says it (its subdomain or its custom domain); None otherwise."""
        _, sep, rest = resource.partition("://")
        if not sep or "/" in rest or "?" in rest or "@" in rest:
            return None
        site = await self.resolve(normalize_host(rest))
        if site is None or site.space is None or site.origin != resource:
            return None
        return site.space.id

    async def space_named(self, subdomain: str) -> str | None:
        """The space with this subdomain (a token exchange's ``audience``), case aside."""
        subdomain = subdomain.lower()
        if not _HOST_NAME.fullmatch(subdomain) or "." in subdomain:
            return None
        space = await self._lookup_space("subdomain", subdomain)
        return space.id if space is not None else None


def _first_header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


class HostMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: Settings,
        resolver: SiteResolver,
        not_found: Callable[[Scope, Receive, Send], Awaitable[None]],
        always_allowed: frozenset[str] = frozenset({"/healthz", "/healthz/domain", "/readyz"}),
    ) -> None:
        self.app = app
        self.settings = settings
        self.resolver = resolver
        self.not_found = not_found
        self.always_allowed = always_allowed
        self._networks = settings.trusted_proxy_networks

    def _trusted(self, address: str | None) -> bool:
        if not address or not self._networks:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self._networks)

    def _client_ip(self, peer: str | None, forwarded_for: str | None) -> str | None:
        """The right-most address in X-Forwarded-For that is not one of our proxies."""
        if forwarded_for is None:
            return peer
        hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
        for hop in reversed(hops):
            if not self._trusted(hop):
                return hop
        return hops[0] if hops else peer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        client = scope.get("client")
        peer = client[0] if client else None
        host_header = _first_header(headers, b"host") or ""
        scheme: str = scope.get("scheme", "http")
        client_ip = peer
        if self._trusted(peer):
            forwarded_host = _first_header(headers, b"x-forwarded-host")
            forwarded_proto = _first_header(headers, b"x-forwarded-proto")
            forwarded_for = _first_header(headers, b"x-forwarded-for")
            if forwarded_host:
                host_header = forwarded_host.split(",")[0]
            if forwarded_proto:
                scheme = forwarded_proto.split(",")[0].strip().lower()
            client_ip = self._client_ip(peer, forwarded_for)
        host = normalize_host(host_header)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["client_ip"] = client_ip or ""
        state["scheme"] = scheme
        state["raw_host"] = host_header.strip().lower()
        site = await self.resolver.resolve(host)
        if site is None:
            if scope["type"] == "http" and scope["path"] in self.always_allowed:
                state["site"] = Site(host=host, origin=self.settings.public_url)
                await self.app(scope, receive, send)
                return
            await self.not_found(scope, receive, send)
            return
        state["site"] = site
        if scope["type"] == "http":
            target = custom_domain_redirect(self.settings, site, scope)
            if target is not None:
                await _redirect(target, send)
                return
        await self.app(scope, receive, send)


# Where a person's browser starts an authorization or logs in: on a space's subdomain these
# move to the space's verified custom domain (docs/compatibility.md, "Custom domains").
BROWSER_ENTRY_PATHS = frozenset({"/oauth/authorize", "/login", "/signup"})


def custom_domain_redirect(settings: Settings, site: Site, scope: Scope) -> str | None:
    """The same request on the space's custom domain, when ``site`` is a space's subdomain
    with a verified custom domain and the request is a browser's GET (or HEAD) of a page where
    authorization or login happens; else ``None``.

    Path and query are kept byte for byte. Only these GETs move: the person's session, cookies
    and login live on the host they are on, so an authorization started on the subdomain would
    log them in on a host the space does not use ("OAuth happens on the space's subdomain or
    custom domain if one is set up", the source document). Nothing else moves: API calls and
    the token, revocation and introspection endpoints are made by programs, which do not
    follow redirects with their credentials (HTTP clients drop ``Authorization`` on a redirect
    to another host, and a POST body is not resent after 302/303); form posts (the consent
    decision, login) belong to the session of the host whose page posted them; and discovery
    documents name the subdomain as issuer (RFC 8414 §3.3)."""
    space = site.space
    if space is None or not space.custom_domain or site.host == space.custom_domain:
        return None
    if scope["method"] not in ("GET", "HEAD") or scope["path"] not in BROWSER_ENTRY_PATHS:
        return None
    # The path as received (some servers put the query in raw_path too: it comes from
    # query_string alone).
    raw_path: bytes = (scope.get("raw_path") or scope["path"].encode()).split(b"?", 1)[0]
    query: bytes = scope.get("query_string", b"")
    target = settings.custom_domain_url(space.custom_domain) + raw_path.decode("latin-1")
    return target + ("?" + query.decode("latin-1") if query else "")


async def _redirect(location: str, send: Send) -> None:
    """302 Found: a GET stays a GET (RFC 9110 §15.4.3), and the move is not cached for good
    (the space may drop its domain)."""
    await send(
        {
            "type": "http.response.start",
            "status": 302,
            "headers": [
                (b"location", location.encode("latin-1")),
                (b"cache-control", b"no-store"),
                (b"content-length", b"0"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})
