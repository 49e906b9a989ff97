"""The token endpoint (RFC 6749 §3.2, §5): parameters, client authentication, grant dispatch.

Errors are raised as :class:`frontdesk.oauth.errors.OAuthError`; the web layer renders them as
RFC 6749 §5.2 JSON with the same no-store headers as successes.
"""

from __future__ import annotations

from frontdesk.oauth import client_auth
from frontdesk.oauth.config import OAuthConfig
from frontdesk.oauth.errors import InvalidClient, InvalidRequest, UnsupportedGrantType
from frontdesk.oauth.grants import Grant, GrantContext
from frontdesk.oauth.models import Client
from frontdesk.oauth.request import OAuthRequest, Params, token_params
from frontdesk.oauth.storage import Limiter, PasswordAuthenticator, Storage
from frontdesk.oauth.tokens import TokenIssuer, TokenResponse


class TokenEndpoint:
    def __init__(
        self,
        config: OAuthConfig,
        grants: list[type[Grant]],
        *,
        issuer: TokenIssuer | None = None,
        password_limiter: Limiter | None = None,
        client_limiter: Limiter | None = None,
    ) -> None:
        self.config = config
        self.issuer = issuer or TokenIssuer(config)
        self.grants = {g.grant_type: g for g in grants}
        self.password_limiter = password_limiter
        self.client_limiter = client_limiter

    @property
    def grant_types(self) -> list[str]:
        return list(self.grants)

    async def handle(
        self, request: OAuthRequest, storage: Storage, *, password_auth: PasswordAuthenticator | None = None
    ) -> TokenResponse:
        if request.method != "POST":
            raise InvalidRequest("the token endpoint accepts POST only")
        params = token_params(request, strict=self.config.strict)
        grant_type = params.get("grant_type")
        if grant_type is None:
            raise InvalidRequest("missing parameter 'grant_type'")
        grant_cls = self.grants.get(grant_type)
        if grant_cls is None:
            raise UnsupportedGrantType(f"grant_type {grant_type!r} is not supported")
        client = await self._authenticate(request, params, storage)
        grant = grant_cls(
            GrantContext(
                config=self.config,
                storage=storage,
                request=request,
                params=params,
                client=client,
                issuer=self.issuer,
                password_auth=password_auth,
                limiter=self.password_limiter,
            )
        )
        await grant.validate_token_request()
        return await grant.create_token_response()

    async def _authenticate(self, request: OAuthRequest, params: Params, storage: Storage) -> Client:
        """Client authentication, with failures limited per client and address (§2.3.1)."""
        keys = {"client": params.get("client_id") or "", "address": request.client_ip}
        if self.client_limiter is not None:
            wait = await self.client_limiter.retry_after(keys)
            if wait is not None:
                raise InvalidClient("too many failed attempts", status_code=429, retry_after=wait)
        try:
            client, _creds = await client_auth.authenticate(storage, request, params)
        except InvalidClient:
            if self.client_limiter is not None:
                await self.client_limiter.failed(keys)
            raise
        return client
