"""The asyncio flavour: :class:`AsyncClient` (OAuth) and :class:`AsyncApiClient` (the API).

Both are thin: each method runs the shared sans-IO operation with an ``httpx.AsyncClient``;
the methods and their behaviour are those of :mod:`frontdesk.client.sync`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import httpx

from frontdesk.client._api import ApiCore, LinkSpecInput
from frontdesk.client._drivers import AsyncDriver
from frontdesk.client._oauth import AnyToken, CallbackInput, OAuthCore, Scope
from frontdesk.client._sansio import Op
from frontdesk.client.config import DEFAULT_USER_AGENT, AuthMethod, ClientConfig, HttpOptions, RetryPolicy
from frontdesk.client.models import (
    DeviceAuthorization,
    IframeContext,
    Introspection,
    Membership,
    NavigationLink,
    PendingAuthorization,
    ServerMetadata,
    Space,
    SpaceToken,
    Token,
    TokenInfo,
    User,
)

__all__ = ["AsyncApiClient", "AsyncClient"]

T = TypeVar("T")


class AsyncClient:
    """An app's OAuth client for a Frontdesk platform (asyncio).

    >>> client = AsyncClient("my-client-id", "my-secret", issuer="http://localhost:8000",
    ...                 redirect_uri="https://app.example/auth/callback")
    >>> client.issuer_for_space("co-up")
    'http://co-up.localhost:8000'

    The web flow::

        pending = await client.start_authorization("openid read_user")
        session["pending"] = pending.to_dict()          # server-side: it holds the PKCE verifier
        return RedirectResponse(pending.url)
        # … the person comes back to the redirect URI …
        pending = PendingAuthorization.from_dict(session.pop("pending"))
        token = await client.finish_authorization(pending, str(request.url))
        user = await client.api(token).get_user()

    Pass ``transport`` (any ``httpx.AsyncBaseTransport``) or a ready ``http_client`` to control
    the connection; the client closes only an HTTP client it created.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str | None = None,
        *,
        issuer: str,
        redirect_uri: str | None = None,
        token_endpoint_auth_method: AuthMethod | None = None,
        timeout: float | httpx.Timeout = 10.0,
        retry: RetryPolicy | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        leeway: int = 60,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        config = ClientConfig(
            client_id=client_id,
            client_secret=client_secret,
            issuer=issuer,
            redirect_uri=redirect_uri,
            token_endpoint_auth_method=token_endpoint_auth_method,
            timeout=timeout,
            retry=retry or RetryPolicy(),
            user_agent=user_agent,
            leeway=leeway,
        )
        self._setup(config, http_client, transport)

    @classmethod
    def from_config(
        cls,
        config: ClientConfig,
        *,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> AsyncClient:
        """A client for an existing :class:`ClientConfig`."""
        self = cls.__new__(cls)
        self._setup(config, http_client, transport)
        return self

    def _setup(
        self, config: ClientConfig, http: httpx.AsyncClient | None, transport: httpx.AsyncBaseTransport | None
    ) -> None:
        self._core = OAuthCore(config)
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(transport=transport, timeout=config.http.httpx_timeout)
        self._driver = AsyncDriver(self._http)

    async def _run(self, op: Op[T]) -> T:
        return await self._driver.run(op)

    @property
    def config(self) -> ClientConfig:
        return self._core.config

    @property
    def issuer(self) -> str:
        """The platform's main issuer."""
        return self._core.config.issuer

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- issuers ------------------------------------------------------------------------------

    def issuer_for_space(self, subdomain: str) -> str:
        """The space's issuer derived from the main issuer (no request; see :mod:`.config`)."""
        return self._core.config.space_issuer(subdomain)

    async def resolve_space_issuer(self, subdomain: str) -> str:
        """The space's canonical issuer as the platform reports it — its custom domain when it
        has one (``GET /api/spaces/<subdomain>``)."""
        return await self._run(self._core.resolve_space_issuer(subdomain))

    async def discover(self, issuer: str | None = None, *, refresh: bool = False) -> ServerMetadata:
        """The metadata of ``issuer`` (default: the main issuer), cached; raises
        :class:`IssuerMismatch` when the document names another issuer."""
        return await self._run(self._core.discover(issuer, refresh=refresh))

    # ---- the web flow -------------------------------------------------------------------------

    async def start_authorization(
        self,
        scope: Scope,
        *,
        issuer: str | None = None,
        state: str | None = None,
        pkce: bool = True,
        nonce: str | None = None,
        redirect_uri: str | None = None,
        extra_params: Mapping[str, str] | None = None,
    ) -> PendingAuthorization:
        """Build the authorization URL (PKCE S256, random ``state``, a ``nonce`` with openid).

        ``issuer`` is the main issuer by default; pass a space's issuer for in-space OAuth
        (an app in an iframe: ``issuer=client.issuer_for_space(subdomain)``).

        >>> pending = await client.start_authorization(  # doctest: +SKIP
        ...     "read_user", extra_params={"prompt": "consent"})
        """
        return await self._run(
            self._core.start_authorization(
                scope,
                issuer=issuer,
                state=state,
                pkce=pkce,
                nonce=nonce,
                redirect_uri=redirect_uri,
                extra_params=extra_params,
            )
        )

    async def finish_authorization(self, pending: PendingAuthorization, callback: CallbackInput) -> Token:
        """Check the callback (``state``, ``iss``, ``error``), exchange the code, verify the ID
        token. ``callback`` is the full callback URL, its query string or its parameters."""
        return await self._run(self._core.finish_authorization(pending, callback))

    # ---- other grants and token management ----------------------------------------------------

    async def password_grant(
        self, username: str, password: str, scope: Scope, *, issuer: str | None = None
    ) -> Token:
        """Cobot's "app flow" (RFC 6749 §4.3), for the app's own trusted frontends."""
        return await self._run(self._core.password_grant(username, password, scope, issuer=issuer))

    async def device_authorization(
        self, scope: Scope | None = None, *, issuer: str | None = None
    ) -> DeviceAuthorization:
        """The device authorization grant (RFC 8628 §3.1) for a device without a browser (a
        door reader, a kiosk, a command-line tool): show ``user_code`` and
        ``verification_uri`` (or a QR code of ``verification_uri_complete``, e.g.
        ``qr_code_url``), then :meth:`poll_device`. ``issuer`` a space's: that space's token."""
        return await self._run(self._core.device_authorization(scope, issuer=issuer))

    async def poll_device(self, authorization: DeviceAuthorization) -> Token:
        """Wait for the person's decision (RFC 8628 §3.4–§3.5), polling every ``interval``
        seconds (5 more after each ``slow_down``): the token, or :class:`AccessDenied`
        (denied) or :class:`DeviceCodeExpired` (nobody decided in time)."""
        return await self._run(self._core.poll_device(authorization))

    async def refresh(self, token: Token | str, *, scope: Scope | None = None) -> Token:
        """A new token for an expiring one (apps with ``access_token_ttl``); store the result,
        the old refresh token is spent (rotation)."""
        return await self._run(self._core.refresh(token, scope=scope))

    async def revoke(self, token: Token | SpaceToken | str, token_type_hint: str | None = None) -> None:
        """Revoke a token (RFC 7009; Cobot's ``DELETE /api/access_tokens/<t>`` when the server
        has no revocation endpoint). Revoking an unknown token is not an error."""
        await self._run(self._core.revoke(token, token_type_hint))

    async def introspect(self, token: str, token_type_hint: str | None = None) -> Introspection:
        """RFC 7662 introspection of a token issued to this app."""
        return await self._run(self._core.introspect(token, token_type_hint))

    async def space_token(
        self, user_token: Token | str, subdomain: str, *, resolve_id: bool = False
    ) -> SpaceToken:
        """Exchange a user token of a space admin for a space token (bound to that space)."""
        return await self._run(self._core.space_token(user_token, subdomain, resolve_id=resolve_id))

    # ---- JWTs ---------------------------------------------------------------------------------

    async def verify_id_token(
        self, id_token: str, *, issuer: str, nonce: str | None = None, access_token: str | None = None
    ) -> dict[str, Any]:
        """Verify an ID token with the issuer's JWKS; returns its claims."""
        return await self._run(
            self._core.verify_id_token(id_token, issuer=issuer, nonce=nonce, access_token=access_token)
        )

    async def verify_context(
        self, frontdesk_context: str, *, issuer: str | Sequence[str], subdomain: str | None = None
    ) -> IframeContext:
        """Verify the ``frontdesk_context`` a navigation link's iframe URL carries.

        >>> ctx = await client.verify_context(request.query["frontdesk_context"],  # doctest: +SKIP
        ...                             issuer=client.issuer_for_space(request.query["cobot_subdomain"]))
        """
        return await self._run(
            self._core.verify_context(frontdesk_context, issuer=issuer, subdomain=subdomain)
        )

    # ---- the API ------------------------------------------------------------------------------

    def api(
        self,
        token: AnyToken,
        *,
        base: str | None = None,
        auto_refresh: bool = False,
        on_refresh: Callable[[Token], Any] | None = None,
    ) -> AsyncApiClient:
        """An :class:`AsyncApiClient` sharing this client's connection pool and settings;
        ``auto_refresh`` refreshes an expiring :class:`Token` and calls ``on_refresh``
        (a plain function or a coroutine function)."""
        return AsyncApiClient(
            token, base=base or self.issuer, oauth=self, auto_refresh=auto_refresh, on_refresh=on_refresh
        )


class AsyncApiClient:
    """The platform's API with a bearer token (asyncio).

    >>> api = AsyncApiClient("fdat_…", base="http://localhost:8000")  # doctest: +SKIP
    >>> (await api.get_user()).admin_of  # doctest: +SKIP
    (AdminRole(space_subdomain='co-up', …),)
    """

    def __init__(
        self,
        token: AnyToken,
        *,
        base: str,
        timeout: float | httpx.Timeout = 10.0,
        retry: RetryPolicy | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        oauth: AsyncClient | None = None,
        auto_refresh: bool = False,
        on_refresh: Callable[[Token], Any] | None = None,
    ) -> None:
        if oauth is not None:
            http = oauth.config.http
            http_client = http_client or oauth._http
        else:
            http = HttpOptions(timeout=timeout, user_agent=user_agent, retry=retry or RetryPolicy())
        self._core = ApiCore(
            http,
            token,
            base=base,
            oauth=oauth._core if oauth is not None else None,
            auto_refresh=auto_refresh,
            on_refresh=on_refresh,
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(transport=transport, timeout=http.httpx_timeout)
        self._driver = (
            oauth._driver if oauth is not None and http_client is oauth._http else AsyncDriver(self._http)
        )

    async def _run(self, op: Op[T]) -> T:
        return await self._driver.run(op)

    @property
    def token(self) -> AnyToken:
        """The current token (a refreshed one after an automatic refresh)."""
        return self._core.token

    @property
    def base(self) -> str:
        return self._core.base

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- generic requests ---------------------------------------------------------------------

    async def get(
        self, path: str, *, subdomain: str | None = None, params: Mapping[str, str] | None = None
    ) -> Any:
        """GET ``path`` on the main host (or the space's host with ``subdomain``); parsed JSON."""
        return await self._run(self._core.call("GET", path, subdomain=subdomain, params=params))

    async def post(self, path: str, json: Any = None, *, subdomain: str | None = None) -> Any:
        return await self._run(self._core.call("POST", path, subdomain=subdomain, json_body=json))

    async def put(self, path: str, json: Any = None, *, subdomain: str | None = None) -> Any:
        return await self._run(self._core.call("PUT", path, subdomain=subdomain, json_body=json))

    async def delete(self, path: str, *, subdomain: str | None = None) -> Any:
        return await self._run(self._core.call("DELETE", path, subdomain=subdomain))

    # ---- endpoints ----------------------------------------------------------------------------

    async def get_user(self) -> User:
        """``GET /api/user`` (scope ``read_user``)."""
        return await self._run(self._core.get_user())

    async def get_userinfo(self) -> dict[str, Any]:
        """OpenID Connect UserInfo (scope ``openid``)."""
        return await self._run(self._core.get_userinfo())

    async def get_space(self, subdomain: str) -> Space:
        """``GET /api/spaces/<subdomain>`` (public)."""
        return await self._run(self._core.get_space(subdomain))

    async def memberships(self, subdomain: str | None = None) -> tuple[Membership, ...]:
        """The space's people (scope ``read_memberships``, admin or space token). With a space
        token this asks the space's host (``/api/memberships``); the subdomain may be omitted."""
        return await self._run(self._core.memberships(subdomain))

    async def list_navigation_links(self, subdomain: str) -> tuple[NavigationLink, ...]:
        """This app's navigation links in the space (scope ``navigation``)."""
        return await self._run(self._core.list_navigation_links(subdomain))

    async def create_navigation_link(
        self, subdomain: str, section: str, label: str, iframe_url: str, user_editable: bool = True
    ) -> NavigationLink:
        return await self._run(
            self._core.create_navigation_link(subdomain, section, label, iframe_url, user_editable)
        )

    async def delete_navigation_link(self, subdomain: str, link: str | NavigationLink) -> None:
        await self._run(self._core.delete_navigation_link(subdomain, link))

    async def install_navigation_links(
        self, subdomain: str, specs: Iterable[LinkSpecInput]
    ) -> tuple[NavigationLink, ...]:
        """Idempotent: creates only the links not there yet (same section and iframe_url).

        >>> await api.install_navigation_links("co-up", [  # doctest: +SKIP
        ...     NavigationLinkSpec("admin/manage", "Desk Helper", "https://app.example/admin"),
        ...     {"section": "members", "label": "Book a desk", "iframe_url": "https://app.example/book"},
        ... ])
        """
        return await self._run(self._core.install_navigation_links(subdomain, specs))

    async def get_token_info(self, token: AnyToken | None = None) -> TokenInfo:
        """``GET /api/access_tokens/<token>``: the scope of a token (default: this one)."""
        return await self._run(self._core.get_token_info(token))

    async def space_token(self, subdomain: str, *, resolve_id: bool = False) -> SpaceToken:
        """Exchange this (user) token for a space token."""
        return await self._run(self._core.space_token(subdomain, resolve_id=resolve_id))
