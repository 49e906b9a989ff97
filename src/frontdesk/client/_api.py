"""The API operations (Cobot API 1 shapes), written once (sans-IO) for both client flavours."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx

from frontdesk.client._oauth import AnyToken, OAuthCore, quote_segment, raw_token, space_token_op
from frontdesk.client._sansio import (
    Call,
    Exclusive,
    Op,
    build_request,
    expect,
    parse_json,
    request_json,
    send,
)
from frontdesk.client.config import HttpOptions, issuer_for_space, normalize_issuer
from frontdesk.client.errors import ConfigurationError, ProtocolError
from frontdesk.client.models import (
    Membership,
    NavigationLink,
    NavigationLinkSpec,
    Space,
    SpaceToken,
    Token,
    TokenInfo,
    User,
)

LinkSpecInput = NavigationLinkSpec | Mapping[str, Any]
# Refresh an expiring token this many seconds before it runs out.
REFRESH_MARGIN_SECONDS = 30.0


def link_spec(spec: LinkSpecInput) -> NavigationLinkSpec:
    if isinstance(spec, NavigationLinkSpec):
        return spec
    try:
        return NavigationLinkSpec(
            section=str(spec["section"]),
            label=str(spec["label"]),
            iframe_url=str(spec["iframe_url"]),
            user_editable=bool(spec.get("user_editable", True)),
        )
    except KeyError as exc:
        raise ConfigurationError(
            f"a navigation link needs section, label and iframe_url ({exc} is missing)"
        ) from exc


class ApiCore:
    """A token, the platform's main issuer, and (optionally) how to refresh the token."""

    def __init__(
        self,
        http: HttpOptions,
        token: AnyToken,
        *,
        base: str,
        oauth: OAuthCore | None = None,
        auto_refresh: bool = False,
        on_refresh: Callable[[Token], Any] | None = None,
        refresh_margin: float = REFRESH_MARGIN_SECONDS,
    ) -> None:
        if not raw_token(token):
            raise ConfigurationError("an access token is required")
        if auto_refresh and oauth is None:
            raise ConfigurationError("auto_refresh needs the OAuth client (use Client.api(...))")
        self.http = http
        self.base = normalize_issuer(base)
        self.oauth = oauth
        self.auto_refresh = auto_refresh
        self.on_refresh = on_refresh
        self.refresh_margin = refresh_margin
        self.token: AnyToken = token

    # ---- URLs and requests --------------------------------------------------------------------

    def space_url(self, subdomain: str) -> str:
        return issuer_for_space(self.base, subdomain)

    def url(self, path: str, subdomain: str | None = None) -> str:
        """An absolute URL is kept; a path goes to the main host or the space's host."""
        if path.startswith(("http://", "https://")):
            return path
        if not path.startswith("/"):
            raise ConfigurationError(f"an API path starts with '/': {path!r}")
        return (self.space_url(subdomain) if subdomain else self.base) + path

    def _refreshable(self) -> bool:
        return self.auto_refresh and isinstance(self.token, Token) and bool(self.token.refresh_token)

    def _refresh(self, stale: AnyToken) -> Op[None]:
        """Refresh ``stale`` unless another request already did (runs under the lock)."""
        if self.token is not stale or not isinstance(stale, Token):
            return
        assert self.oauth is not None
        fresh = yield from self.oauth.refresh(stale)
        self.token = fresh
        if self.on_refresh is not None:
            yield Call(self.on_refresh, fresh)

    def call(
        self,
        method: str,
        path: str,
        *,
        subdomain: str | None = None,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> Op[Any]:
        """One API request with ``Authorization: Bearer``; the parsed JSON (None for 204)."""
        url = self.url(path, subdomain)
        if (
            self._refreshable()
            and isinstance(self.token, Token)
            and self.token.is_expired(self.refresh_margin)
        ):
            yield Exclusive(self._refresh(self.token))
        used = self.token

        def request() -> httpx.Request:
            headers = {"authorization": f"Bearer {raw_token(self.token)}"}
            return build_request(self.http, method, url, params=params, json_body=json_body, headers=headers)

        response = yield from send(self.http, request())
        if response.status_code == 401 and self._refreshable():
            # Expired or revoked early: refresh once and send again (the server did nothing).
            yield Exclusive(self._refresh(used))
            if self.token is not used:
                response = yield from send(self.http, request())
        expect(response)
        if response.status_code == 204 or not response.content:
            return None
        return parse_json(response)

    # ---- endpoints ----------------------------------------------------------------------------

    def get_user(self) -> Op[User]:
        return User.from_json((yield from self.call("GET", "/api/user")))

    def get_userinfo(self) -> Op[dict[str, Any]]:
        data = yield from self.call("GET", "/api/userinfo")
        if not isinstance(data, dict):
            raise ProtocolError("the userinfo response is not a JSON object")
        return data

    def get_space(self, subdomain: str) -> Op[Space]:
        return Space.from_json((yield from self.call("GET", f"/api/spaces/{quote_segment(subdomain)}")))

    def memberships(self, subdomain: str | None = None) -> Op[tuple[Membership, ...]]:
        token = self.token
        if isinstance(token, SpaceToken) and subdomain in (None, token.space_subdomain):
            data = yield from self.call("GET", "/api/memberships", subdomain=token.space_subdomain)
        elif subdomain is None:
            raise ConfigurationError("name the space (a user token is not bound to one)")
        else:
            data = yield from self.call("GET", f"/api/spaces/{quote_segment(subdomain)}/memberships")
        if not isinstance(data, list):
            raise ProtocolError("the memberships are not a JSON array")
        return tuple(Membership.from_json(item) for item in data)

    def list_navigation_links(self, subdomain: str) -> Op[tuple[NavigationLink, ...]]:
        data = yield from self.call("GET", "/api/navigation_links", subdomain=subdomain)
        if not isinstance(data, list):
            raise ProtocolError("the navigation links are not a JSON array")
        return tuple(NavigationLink.from_json(item) for item in data)

    def create_navigation_link(
        self, subdomain: str, section: str, label: str, iframe_url: str, user_editable: bool = True
    ) -> Op[NavigationLink]:
        spec = NavigationLinkSpec(section, label, iframe_url, user_editable)
        data = yield from self.call(
            "POST", "/api/navigation_links", subdomain=subdomain, json_body=spec.as_json()
        )
        return NavigationLink.from_json(data)

    def delete_navigation_link(self, subdomain: str, link: str | NavigationLink) -> Op[None]:
        link_id = link.id if isinstance(link, NavigationLink) else link
        yield from self.call("DELETE", f"/api/navigation_links/{quote_segment(link_id)}", subdomain=subdomain)

    def install_navigation_links(
        self, subdomain: str, specs: Iterable[LinkSpecInput]
    ) -> Op[tuple[NavigationLink, ...]]:
        """Create the links that are missing (matched on section and iframe_url); return the
        link for every spec, in order — like cobot_client's ``NavigationLinkService``."""
        wanted = [link_spec(s) for s in specs]
        existing = list((yield from self.list_navigation_links(subdomain)))
        result: list[NavigationLink] = []
        for spec in wanted:
            link = next((item for item in existing if item.matches(spec)), None)
            if link is None:
                link = yield from self.create_navigation_link(
                    subdomain, spec.section, spec.label, spec.iframe_url, spec.user_editable
                )
                existing.append(link)
            result.append(link)
        return tuple(result)

    def get_token_info(self, token: AnyToken | None = None) -> Op[TokenInfo]:
        """``GET <main>/api/access_tokens/<token>`` (default: this client's token)."""
        raw = raw_token(token if token is not None else self.token)
        request = build_request(
            self.http,
            "GET",
            f"{self.base}/api/access_tokens/{quote_segment(raw)}",
            headers={"authorization": f"Bearer {raw}"},
        )
        return TokenInfo.from_json((yield from request_json(self.http, request)))

    def space_token(self, subdomain: str, *, resolve_id: bool = False) -> Op[SpaceToken]:
        if isinstance(self.token, SpaceToken):
            raise ConfigurationError("this is already a space token; a space token comes from a user token")
        client_id = self.oauth.config.client_id if self.oauth is not None else None
        return (
            yield from space_token_op(
                self.http,
                self.base,
                raw_token(self.token),
                subdomain,
                resolve_id=resolve_id,
                client_id=client_id,
            )
        )
