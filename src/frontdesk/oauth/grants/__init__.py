"""One module per grant type. Each grant validates the token request, then creates the
token response (the two steps of RFC 6749 §4.x.3 and §5.1)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from frontdesk.oauth.config import OAuthConfig
from frontdesk.oauth.errors import InvalidGrant, wait_in_words
from frontdesk.oauth.models import Client
from frontdesk.oauth.request import OAuthRequest, Params
from frontdesk.oauth.storage import Limiter, PasswordAuthenticator, Storage
from frontdesk.oauth.tokens import TokenIssuer, TokenResponse


@dataclass(frozen=True)
class GrantContext:
    config: OAuthConfig
    storage: Storage
    request: OAuthRequest
    params: Params
    client: Client
    issuer: TokenIssuer
    password_auth: PasswordAuthenticator | None = None
    limiter: Limiter | None = None
    # Counts failed redemptions (guessed codes or refresh tokens) per client and address.
    failure_limiter: Limiter | None = None
    # RFC 9449 §5: the thumbprint of the key of the request's valid DPoP proof (None: none
    # was sent); ``issuer`` binds the tokens it issues to it.
    dpop_jkt: str | None = None


class Grant(ABC):
    grant_type: ClassVar[str]

    def __init__(self, ctx: GrantContext) -> None:
        self.ctx = ctx

    @property
    def client(self) -> Client:
        return self.ctx.client

    async def check_failure_throttle(self) -> dict[str, str]:
        """Before a code (authorization or device) is looked up: ``invalid_grant`` with 429
        while this client has been guessing from this address (RFC 6819 §5.1.4.2.3). The
        keys the caller reports the outcome under (``failure_limiter.failed/succeeded``)."""
        keys = {"client": self.client.client_id, "address": self.ctx.request.client_ip}
        limiter = self.ctx.failure_limiter
        if limiter is not None:
            wait = await limiter.attempt(keys)
            if wait is not None:
                raise InvalidGrant(
                    f"too many failed attempts; try again in {wait_in_words(wait)}",
                    status_code=429,
                    retry_after=wait,
                )
        return keys

    @abstractmethod
    async def validate_token_request(self) -> None: ...

    @abstractmethod
    async def create_token_response(self) -> TokenResponse: ...
