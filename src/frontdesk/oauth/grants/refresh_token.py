"""The refresh token grant with rotation and reuse detection (RFC 6749 §6, RFC 9700 §4.14)."""

from __future__ import annotations

from frontdesk.oauth.errors import UnsupportedGrantType
from frontdesk.oauth.grants import Grant
from frontdesk.oauth.tokens import TokenResponse


class RefreshTokenGrant(Grant):
    grant_type = "refresh_token"

    async def validate_token_request(self) -> None:
        raise UnsupportedGrantType("refresh tokens are not available yet")

    async def create_token_response(self) -> TokenResponse:
        raise UnsupportedGrantType("refresh tokens are not available yet")
