"""Redirect URIs: what may be registered, and how a requested one is matched.

Registration (RFC 6749 §3.1.2, RFC 9700 §2.6, RFC 8252 §7): absolute, no fragment, no
userinfo; https, or http only on loopback hosts; custom (private-use) schemes for native apps.

Matching (RFC 9700 §4.1.3, docs/decisions.md §8): exact string comparison. Loopback URIs match
on any port (RFC 8252 §7.3). An app may opt in to query-tolerant matching for clients that
append their own query: then scheme, host, port and path must be equal, the registered query
(if any) must be present unchanged, and extra parameters are ignored.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")
MAX_LENGTH = 2000


class RedirectUriError(ValueError):
    """A URI that cannot be registered; the message says why."""


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_for_registration(uri: str) -> str:
    """Return ``uri`` unchanged if it may be registered, else raise :class:`RedirectUriError`."""
    if not uri or uri != uri.strip():
        raise RedirectUriError("A redirect URI must not be empty or padded with spaces.")
    if len(uri) > MAX_LENGTH:
        raise RedirectUriError(f"A redirect URI has at most {MAX_LENGTH} characters.")
    if any(ord(c) < 0x21 or c in '"<>\\^`{|}' for c in uri):
        raise RedirectUriError("A redirect URI must not contain spaces or control characters.")
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        raise RedirectUriError(f"Not a valid URI: {exc}.") from exc
    scheme = parts.scheme
    if not scheme or not _SCHEME.match(scheme):
        raise RedirectUriError("A redirect URI must be absolute (start with https:// or an app scheme).")
    if "#" in uri:
        raise RedirectUriError("A redirect URI must not contain a fragment (#…).")
    if scheme in ("javascript", "data", "file", "vbscript", "about", "blob"):
        raise RedirectUriError(f"The {scheme}: scheme cannot be a redirect URI.")
    if scheme in ("http", "https"):
        if not parts.hostname:
            raise RedirectUriError("A web redirect URI needs a host.")
        if parts.username is not None or parts.password is not None or "@" in parts.netloc:
            raise RedirectUriError("A redirect URI must not contain user information (user@host).")
        if scheme == "http" and not _is_loopback(parts.hostname):
            raise RedirectUriError(
                "Use https; plain http is allowed only for localhost, 127.0.0.1 and [::1]."
            )
        return uri
    # Private-use URI scheme for native apps, named after a domain the developer controls
    # (RFC 8252 §7.1), e.g. com.example.app:/callback
    if "." not in scheme:
        raise RedirectUriError("Native apps use a reverse-domain scheme such as com.example.app:/callback.")
    return uri


@dataclass(frozen=True)
class Match:
    ok: bool
    # True when the only difference from a registered URI is extra query parameters, so the
    # error page can suggest query-tolerant matching.
    only_query_differs: bool = False


# A loopback redirect URI, written exactly (lower-case scheme and host, no user information),
# with the port as the only free part: http://127.0.0.1:51234/cb matches http://127.0.0.1/cb.
_LOOPBACK = re.compile(r"^http://(localhost|127\.0\.0\.1|\[::1\])(?::[0-9]{1,5})?([/?].*)?$")


def _portless(uri: str) -> str | None:
    found = _LOOPBACK.match(uri)
    return f"http://{found.group(1)}{found.group(2) or ''}" if found else None


def _loopback_equal(requested: str, registered: str) -> bool:
    """Loopback redirect URIs match whatever port the native app picked (RFC 8252 §7.3); every
    other character must be the same."""
    wanted = _portless(registered)
    return wanted is not None and "#" not in requested and _portless(requested) == wanted


def _query_tolerant_equal(requested: str, registered: str) -> bool:
    """Everything before ``?`` equal as strings; the registered query's parameters present."""
    if "#" in requested:
        return False
    base, _, query = requested.partition("?")
    registered_base, _, registered_query = registered.partition("?")
    if base != registered_base:
        return False
    have = parse_qsl(query, keep_blank_values=True)
    return all(pair in have for pair in parse_qsl(registered_query, keep_blank_values=True))


def match(requested: str, registered: list[str], *, allow_query: bool = False) -> Match:
    if "#" in requested:
        return Match(False)
    for uri in registered:
        if requested == uri or _loopback_equal(requested, uri):
            return Match(True)
        if allow_query and _query_tolerant_equal(requested, uri):
            return Match(True)
    only_query = any(_query_tolerant_equal(requested, uri) for uri in registered)
    return Match(False, only_query_differs=only_query)
