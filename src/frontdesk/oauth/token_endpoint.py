"""The token endpoint (RFC 6749 §3.2, §5): parameters, client authentication, grant dispatch.

Errors are raised as :class:`frontdesk.oauth.errors.OAuthError`; the web layer renders them as
RFC 6749 §5.2 JSON with the same no-store headers as successes.
"""

from __future__ import annotations

import logging

from frontdesk.oauth import client_auth
from frontdesk.oauth.config import OAuthConfig
from frontdesk.oauth.errors import InvalidClient, InvalidRequest, OAuthError, UnsupportedGrantType
from frontdesk.oauth.grants import Grant, GrantContext
from frontdesk.oauth.models import Client
from frontdesk.oauth.request import OAuthRequest, Params, token_params
from frontdesk.oauth.storage import Limiter, PasswordAuthenticator, Storage
from frontdesk.oauth.tokens import TokenIssuer, TokenResponse

log = logging.getLogger("frontdesk.oauth")


class TokenEndpoint:
    def __init__(
        self,
        config: OAuthConfig,
        grants: list[type[Grant]],
        *,
        issuer: TokenIssuer | None = None,
        password_limiter: Limiter | None = None,
        client_limiter: Limiter | None = None,
        code_limiter: Limiter | None = None,
    ) -> None:
        self.config = config
        self.issuer = issuer or TokenIssuer(config)
        self.grants = {g.grant_type: g for g in grants}
        self.password_limiter = password_limiter
        self.client_limiter = client_limiter
        self.code_limiter = code_limiter

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
                failure_limiter=self.code_limiter,
            )
        )
        await grant.validate_token_request()
        return await grant.create_token_response()

    async def _authenticate(self, request: OAuthRequest, params: Params, storage: Storage) -> Client:
        """Client authentication, with failures limited per client and address (§2.3.1)."""
        # Credentials are read once; a malformed set is reported after the throttle check,
        # exactly where verifying them would have failed.
        creds: client_auth.Credentials | OAuthError
        try:
            creds = client_auth.extract(request, params)
            claimed = creds.client_id
        except OAuthError as exc:
            creds = exc
            claimed = params.get("client_id") or ""
        keys = {"client": claimed, "address": request.client_ip}
        if self.client_limiter is not None:
            wait = await self.client_limiter.retry_after(keys)
            if wait is not None:
                log.warning(
                    "client authentication throttled for client %r from %s", claimed[:64], request.client_ip
                )
                raise InvalidClient("too many failed attempts", status_code=429, retry_after=wait)
        try:
            if isinstance(creds, OAuthError):
                raise creds
            client = await client_auth.verify(storage, creds)
        except InvalidClient:
            if self.client_limiter is not None:
                await self.client_limiter.failed(keys)
            # An alert trail for brute force on client secrets (RFC 6749 §2.3.1, RFC 6819 §5.1.4.2.3).
            known = await storage.get_client(claimed) if claimed else None
            await storage.record_event(
                "client_auth.failed",
                app_id=known.client_id if known else None,
                ip=request.client_ip,
                detail={"client_id": claimed[:64]},
            )
            await storage.commit()
            raise
        return client
