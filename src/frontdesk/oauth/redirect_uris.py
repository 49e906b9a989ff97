"""Redirect URIs: what may be registered, and how a requested one is matched.

Registration (RFC 6749 §3.1.2, RFC 9700 §2.6, RFC 8252 §7): absolute, no fragment, no
userinfo; https, or http only on loopback hosts; custom (private-use) schemes for native apps.

Matching (RFC 9700 §4.1.3, docs/decisions.md §8): exact string comparison. Loopback URIs match
on any port (RFC 8252 §7.3). An app may opt in to query-tolerant matching for clients that
append their own query: then scheme, host, port and path must be equal, the registered query
(if any) must be present unchanged (no registered parameter repeated or changed), and the extra
parameters are never response parameters (:data:`RESPONSE_PARAMS`): an attacker's ``code``,
``state`` or ``iss`` placed before ours would be read first by many clients (RFC 6749 §4.1.2,
RFC 9207 §2). A registered URI carries no response parameter in its query either.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import unquote_plus, urlsplit

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# Parameters the authorization response carries (RFC 6749 §4.1.2, §4.1.2.1; RFC 9207 §2; OIDC
# Core §3.2.2.5 and Session Management §3): never part of a redirect URI's own query. Every name
# starting with ``error`` counts too (docs/decisions.md §8).
RESPONSE_PARAMS = frozenset(
    {"code", "state", "iss", "error", "error_description", "error_uri", "id_token", "session_state"}
)
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
    port = _port_text(parts.netloc)
    if port is not None and not _valid_port(port):
        raise RedirectUriError("A redirect URI's port is a number from 1 to 65535 without leading zeros.")
    reserved = sorted({name for name, _ in _pairs(parts.query) if is_response_param(name)})
    if reserved:
        raise RedirectUriError(
            f"A redirect URI's query must not contain {', '.join(reserved)}: the authorization "
            "response adds these parameters itself."
        )
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


def is_response_param(name: str) -> bool:
    """Whether a query parameter would be read as part of the authorization response. Names
    are compared without case and without a ``[…]`` suffix (``code[]`` is ``code`` to Rack and
    PHP)."""
    base = name.split("[", 1)[0].strip().lower()
    return base in RESPONSE_PARAMS or base.startswith("error")


def _pairs(query: str) -> list[tuple[str, str]]:
    """The query's parameters, decoded, split on ``&`` and on ``;`` (which some frameworks
    still take as a separator), blank values kept."""
    pairs = []
    for piece in query.replace(";", "&").split("&"):
        if piece:
            name, _, value = piece.partition("=")
            pairs.append((unquote_plus(name), unquote_plus(value)))
    return pairs


def _port_text(netloc: str) -> str | None:
    """The port as written in ``netloc`` (``None`` when there is no ``:port``)."""
    hostport = netloc.rpartition("@")[2]
    if hostport.startswith("["):
        rest = hostport[hostport.find("]") + 1 :]
    else:
        rest = hostport[hostport.find(":") :] if ":" in hostport else ""
    return rest[1:] if rest.startswith(":") else None


def _valid_port(text: str) -> bool:
    """1–65535, written without leading zeros (``0``, ``09000``, ``99999`` are no ports a
    native app listens on, RFC 8252 §7.3)."""
    return _PORT.fullmatch(text) is not None and int(text) <= 65535


_PORT = re.compile(r"[1-9][0-9]{0,4}")


@dataclass(frozen=True)
class Match:
    ok: bool
    # True when the only difference from a registered URI is extra query parameters, so the
    # error page can suggest query-tolerant matching.
    only_query_differs: bool = False


# A loopback redirect URI, written exactly (lower-case scheme and host, no user information),
# with the port as the only free part: http://127.0.0.1:51234/cb matches http://127.0.0.1/cb.
# ``\Z``, not ``$``: ``$`` would also match before a trailing newline.
_LOOPBACK = re.compile(r"^http://(localhost|127\.0\.0\.1|\[::1\])(?::([0-9]+))?([/?].*)?\Z")


def _portless(uri: str) -> str | None:
    found = _LOOPBACK.match(uri)
    if found is None:
        return None
    if found.group(2) is not None and not _valid_port(found.group(2)):
        return None
    return f"http://{found.group(1)}{found.group(3) or ''}"


def _loopback_equal(requested: str, registered: str) -> bool:
    """Loopback redirect URIs match whatever port the native app picked (RFC 8252 §7.3); every
    other character must be the same."""
    wanted = _portless(registered)
    return wanted is not None and "#" not in requested and _portless(requested) == wanted


def _same_base(requested: str, registered: str) -> bool:
    return "#" not in requested and requested.partition("?")[0] == registered.partition("?")[0]


def _query_tolerant_equal(requested: str, registered: str) -> bool:
    """Everything before ``?`` equal as strings; each registered parameter present with its
    registered value(s) only, neither repeated nor changed; no extra parameter is a response
    parameter (docs/decisions.md §8)."""
    if not _same_base(requested, registered):
        return False
    have = _pairs(requested.partition("?")[2])
    want = _pairs(registered.partition("?")[2])
    for name in {n for n, _ in want}:
        if [v for n, v in have if n == name] != [v for n, v in want if n == name]:
            return False
    names = {n for n, _ in want}
    return not any(is_response_param(n) for n, _ in have if n not in names)


def match(requested: str, registered: list[str], *, allow_query: bool = False) -> Match:
    if "#" in requested:
        return Match(False)
    for uri in registered:
        if requested == uri or _loopback_equal(requested, uri):
            return Match(True)
        if allow_query and _query_tolerant_equal(requested, uri):
            return Match(True)
    only_query = not allow_query and any(_query_tolerant_equal(requested, uri) for uri in registered)
    return Match(False, only_query_differs=only_query)


# What the authorization response appends to the redirect URI on success (oauth/authorize.py
# Target.url): the code, the client's state, and this server's issuer (RFC 9207 §2).
APPENDED_PARAMS = ("code", "state", "iss")


def matches_with_appended_response(sent: str, redirect_uri: str, *, code: str, issuer: str) -> bool:
    """Whether ``sent`` is ``redirect_uri`` (the authorization request's) plus the parameters
    this server appended to it in the successful response: what a client that sends back the
    URL it was called at (OmniAuth) gives as ``redirect_uri`` (docs/decisions.md §8).

    Precisely: the query pieces named exactly ``code``, ``state`` or ``iss`` (as this server
    writes them: not percent-encoded, no ``[]``) are removed, each may appear once, ``code``
    must be the code being exchanged and ``iss`` the issuer that made it; what remains must be
    ``redirect_uri`` character for character. ``state`` is the client's own value, which this
    server does not keep and the client checks itself (RFC 6749 §10.12). Any other parameter
    (``error``, another ``code``, a percent-encoded name), a repeated one or an empty piece is a
    difference. A registered URI never carries these names itself (validate_for_registration),
    so removing them cannot remove anything of the authorization request's own URI."""
    base, question, query = sent.partition("?")
    if not question:
        return False
    expected = {"code": code, "iss": issuer}
    kept: list[str] = []
    seen: set[str] = set()
    for piece in query.split("&"):
        name, _, value = piece.partition("=")
        if name not in APPENDED_PARAMS:
            kept.append(piece)
            continue
        if name in seen or (name in expected and unquote_plus(value) != expected[name]):
            return False
        seen.add(name)
    if not seen:
        return False
    stripped = base + ("?" + "&".join(kept) if kept else "")
    if stripped == redirect_uri:
        return True
    # A redirect URI ending in ``?`` or ``&`` got the parameters appended without a separator.
    return redirect_uri.endswith(("?", "&")) and stripped == redirect_uri[:-1]


def is_native(uri: str) -> bool:
    """A redirect URI only a native app on the person's device receives: a loopback address
    (RFC 8252 §7.3) or a private-use scheme (§7.1). Nothing proves which app listens there."""
    scheme = uri.partition(":")[0].lower()
    if scheme not in ("http", "https"):
        return True
    try:
        host = urlsplit(uri).hostname
    except ValueError:
        return False
    return _is_loopback(host)
