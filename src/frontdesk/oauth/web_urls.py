"""Web URLs that app and space owners supply and that end up in pages and headers.

:func:`normalize_web_url` checks one (RFC 3986 §3: an absolute ``http``/``https`` URL with a
host, no user information, no characters that are never literal in a URI) and returns it with
its host in IDNA ASCII form (RFC 5891 via the ``idna`` library, UTS #46 mapping), so what is
stored is what a header may carry. :func:`origin_of` gives a URL's origin (RFC 6454 §4) for a
``Content-Security-Policy`` source: rebuilt from the parsed parts only, never copied from the
input, and ``None`` for anything that does not parse as a plain host (also for rows stored
before these checks existed).
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, urlsplit, urlunsplit

import idna

MAX_URL = 2000
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
# Never literal in a URI (RFC 3986 §2, appendix C) or dangerous where a URL is quoted.
_FORBIDDEN = frozenset("\"'<>\\^`{|}")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class WebUrlError(ValueError):
    """The URL is not acceptable; the message says why, for people."""


def _ascii_host(host: str) -> str | None:
    """The host in lower-case ASCII (IDNA for names), or None when it is no host name or IP."""
    host = host.rstrip(".").lower()
    if not host:
        return None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return str(address)
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError):
            return None
    if len(host) > 253 or not all(_LABEL.match(label) for label in host.split(".")):
        return None
    return host


def _netloc(host: str, port: int | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{port}" if port is not None else shown


def _parts(url: str) -> tuple[SplitResult, str, int | None] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = _ascii_host(parts.hostname)
    if host is None:
        return None
    return parts, host, port


def normalize_web_url(raw: str, *, allow_http: bool = False, allow_loopback_http: bool = False) -> str:
    """The URL with an IDNA host, or :class:`WebUrlError`. ``https`` only unless ``allow_http``
    (any host) or ``allow_loopback_http`` (``localhost``, ``127.0.0.1``, ``::1``)."""
    url = (raw or "").strip()
    if len(url) > MAX_URL:
        raise WebUrlError(f"A URL has at most {MAX_URL} characters.")
    if any(ord(c) < 0x21 or ord(c) == 0x7F or c in _FORBIDDEN or c in "\u2028\u2029" for c in url):
        raise WebUrlError("A URL must not contain spaces, quotes, angle brackets or control characters.")
    parsed = _parts(url)
    if parsed is None:
        scheme = "http(s)" if allow_http else "https"
        raise WebUrlError(
            f"Enter an absolute {scheme} URL with a valid host name, like https://app.example/page."
        )
    parts, host, port = parsed
    if parts.username is not None or parts.password is not None:
        raise WebUrlError("A URL must not contain user information (user@host).")
    if parts.scheme == "http" and not (allow_http or (allow_loopback_http and host in LOOPBACK_NAMES)):
        raise WebUrlError("Use https (plain http only for localhost in development).")
    if not all(c.isascii() for c in parts.path + parts.query + parts.fragment):
        raise WebUrlError("Percent-encode characters outside ASCII in the path and query.")
    return urlunsplit((parts.scheme, _netloc(host, port), parts.path, parts.query, parts.fragment))


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL, built from its parsed parts; None when the
    URL has no such origin (it is then never put into a header)."""
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        return None
    parsed = _parts(url)
    if parsed is None:
        return None
    parts, host, port = parsed
    return f"{parts.scheme}://{_netloc(host, port)}"
