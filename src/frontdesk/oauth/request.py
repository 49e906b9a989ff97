"""A framework-free view of an HTTP request to an OAuth endpoint."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from frontdesk.oauth.errors import InvalidRequest

if TYPE_CHECKING:
    from frontdesk.oauth.resource import ResourceRegistry


@dataclass(frozen=True)
class OAuthRequest:
    method: str
    # Parameters in order of appearance, repeats kept (RFC 6749 §3.1/§3.2 forbid repeats).
    query: tuple[tuple[str, str], ...] = ()
    form: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    # The issuer of the host that received the request (RFC 8414 §2, RFC 9207).
    issuer: str = ""
    space_id: str | None = None
    client_ip: str = ""
    # Which resources tokens may be requested for (RFC 8707); None: this host's only.
    resources: ResourceRegistry | None = None
    # The URLs (without query) the request may have been sent to: the host's public URL of
    # the path, and the URL as received through trusted proxies (RFC 9449 §4.3 ``htu``).
    urls: tuple[str, ...] = ()

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class Params:
    """Request parameters with the RFC 6749 rules: no repeats, empty means absent (§3.1)."""

    def __init__(self, pairs: tuple[tuple[str, str], ...]) -> None:
        self._values: dict[str, list[str]] = {}
        for key, value in pairs:
            self._values.setdefault(key, []).append(value)

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None

    def get(self, name: str) -> str | None:
        values = self._values.get(name)
        if not values:
            return None
        if len(values) > 1:
            raise InvalidRequest(f"parameter {name!r} appears more than once")
        return values[0] or None

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise InvalidRequest(f"missing parameter {name!r}")
        return value

    def names(self) -> set[str]:
        return set(self._values)

    def values(self, name: str) -> list[str]:
        """Every value sent for ``name``, repeats kept (for checks of their own)."""
        return self._values.get(name, [])


def token_params(request: OAuthRequest, *, strict: bool) -> Params:
    """Token endpoint parameters: the form body and, unless strict, the query string too
    (docs/decisions.md §2: Cobot's documented password example uses the query)."""
    if strict and request.query:
        raise InvalidRequest("parameters must be sent in the request body, not the query string")
    return Params(request.form + request.query)
