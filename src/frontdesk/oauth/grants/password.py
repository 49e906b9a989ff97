"""The resource owner password credentials grant, Cobot's "app flow" (RFC 6749 §4.3).

RFC 9700 §2.4 says not to use it; it stays for compatibility (docs/decisions.md §4): only for
confidential apps that keep it switched on, limited per account, client and address before
any hashing (§4.3.2), with one generic error for unknown users and wrong passwords.
"""

from __future__ import annotations

from frontdesk.oauth import amr
from frontdesk.oauth.errors import InvalidGrant, InvalidRequest, UnauthorizedClient, wait_in_words
from frontdesk.oauth.grants import Grant
from frontdesk.oauth.models import Person
from frontdesk.oauth.resource import requested_resource
from frontdesk.oauth.scopes import grant_scopes, parse_scope, token_scopes
from frontdesk.oauth.tokens import IssueRequest, TokenResponse


class PasswordGrant(Grant):
    grant_type = "password"

    user: Person
    scopes: tuple[str, ...]
    audience: str | None = None

    async def validate_token_request(self) -> None:
        ctx = self.ctx
        client = self.client
        if not ctx.config.password_grant_enabled or not client.password_grant or client.public:
            raise UnauthorizedClient("this app may not use the password grant")
        if client.fapi:
            raise UnauthorizedClient(
                "the FAPI 2.0 profile does not allow the password grant; use the web flow"
            )
        username = ctx.params.get("username")
        password = ctx.params.get("password")
        if username is None or password is None:
            raise InvalidRequest("username and password are required")
        self.scopes = token_scopes(
            grant_scopes(
                parse_scope(ctx.params.get("scope")),
                client.scopes,
                trusted=client.trusted,
                space_host=ctx.request.space_id is not None,
            )
        )
        # RFC 8707 §2.2: checked before any password is hashed.
        self.audience = await requested_resource(ctx.request, ctx.params.values("resource"))
        keys = {
            "account": username.strip().casefold(),
            "client": client.client_id,
            "address": ctx.request.client_ip,
        }
        if ctx.limiter is not None:
            wait = await ctx.limiter.attempt(keys)
            if wait is not None:
                raise InvalidGrant(
                    f"too many failed attempts; try again in {wait_in_words(wait)}",
                    status_code=429,
                    retry_after=wait,
                )
        assert ctx.password_auth is not None, "the password grant needs a password authenticator"
        user = await ctx.password_auth(username.strip(), password)
        if user is None:
            if ctx.limiter is not None:
                await ctx.limiter.failed(keys)
            raise InvalidGrant("invalid username or password")
        if ctx.limiter is not None:
            await ctx.limiter.succeeded(keys)
        if user.second_factor:
            # This grant has no way to ask for the second factor; a password alone must not
            # stand in for both (docs/guide.md "Two factors").
            raise InvalidGrant(
                "this account has a second factor: the password grant cannot ask for it; "
                "sign in with the web flow (authorization code) instead"
            )
        if ctx.config.require_verified_email and not user.email_verified:
            # FRONTDESK_REQUIRE_VERIFIED_EMAIL: no authorization before the address is verified.
            raise InvalidGrant("verify your email address first: open the link sent to it")
        self.user = user

    async def create_token_response(self) -> TokenResponse:
        issued = await self.ctx.issuer.issue(
            self.ctx.storage,
            IssueRequest(
                client=self.client,
                user_id=self.user.id,
                scopes=self.scopes,
                grant_type=self.grant_type,
                issuer=self.ctx.request.issuer,
                auth_space_id=self.ctx.request.space_id,
                auth_time=self.ctx.config.clock(),
                amr=(amr.PASSWORD,),
                ip=self.ctx.request.client_ip,
                audience=self.audience,
            ),
        )
        return issued.response
