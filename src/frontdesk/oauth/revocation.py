"""Token revocation, RFC 7009.

``POST /oauth/revoke`` with ``token`` and an optional ``token_type_hint`` (``access_token`` or
``refresh_token``; any other hint is ignored, §2.1: the server searches all its tokens anyway).
The client authenticates as at the token endpoint (a public client by its ``client_id``), with
the same limit on failed attempts.

The answer is 200 with an empty body whether or not anything was revoked (§2.2): for an
unknown token, one already revoked, and also for another client's token, which is left alone
(§2.1: the server "verifies whether the token was issued to the client making the revocation
request"; cf. django-oauth-toolkit #727). Telling the caller that it is someone else's would
reveal that the token exists.

What goes (cf. django-oauth-toolkit #746): revoking a refresh token revokes its whole family,
every refresh token and access token of that grant; revoking an access token that belongs to a
family revokes the family too, so the refresh token cannot mint a new one. An access token
without a family (an app whose tokens never expire) is revoked alone.
"""

from __future__ import annotations

from frontdesk import events
from frontdesk.oauth.client_assertion import ClientAssertions
from frontdesk.oauth.client_auth import authenticate_client
from frontdesk.oauth.config import OAuthConfig
from frontdesk.oauth.errors import InvalidRequest
from frontdesk.oauth.models import TokenInfo
from frontdesk.oauth.request import OAuthRequest, token_params
from frontdesk.oauth.storage import (
    FamilyGrant,
    GrantSelector,
    Limiter,
    RefreshTokenRecord,
    Storage,
    TokenGrant,
)

ACCESS_TOKEN = "access_token"
REFRESH_TOKEN = "refresh_token"


def lookup_order(hint: str | None) -> tuple[str, str]:
    """Which kind to look for first: the hint's, when it names one we know (§2.1)."""
    if hint == REFRESH_TOKEN:
        return (REFRESH_TOKEN, ACCESS_TOKEN)
    return (ACCESS_TOKEN, REFRESH_TOKEN)


async def find_token(storage: Storage, raw: str, hint: str | None) -> TokenInfo | RefreshTokenRecord | None:
    """The access or refresh token ``raw`` is, searching the hinted kind first."""
    for kind in lookup_order(hint):
        found: TokenInfo | RefreshTokenRecord | None
        if kind == ACCESS_TOKEN:
            found = await storage.lookup_token(raw)
        else:
            found = await storage.find_refresh_token(raw)
        if found is not None:
            return found
    return None


class RevocationEndpoint:
    def __init__(
        self,
        config: OAuthConfig,
        *,
        client_limiter: Limiter | None = None,
        client_assertions: ClientAssertions | None = None,
    ) -> None:
        self.config = config
        self.client_limiter = client_limiter
        # private_key_jwt (RFC 7523 §2.2; oauth/client_assertion.py).
        self.client_assertions = client_assertions

    async def handle(self, request: OAuthRequest, storage: Storage) -> bool:
        """Revoke what the authenticated client may; True when something was revoked now.
        The caller answers 200 either way."""
        if request.method != "POST":
            raise InvalidRequest("the revocation endpoint accepts POST only")
        params = token_params(request, strict=self.config.strict)
        client = await authenticate_client(
            request, params, storage, self.client_limiter, self.client_assertions
        )
        raw = params.get("token")
        if raw is None:
            raise InvalidRequest("missing parameter 'token'")
        found = await find_token(storage, raw, params.get("token_type_hint"))
        if found is None or found.client_id != client.client_id:
            return False
        revoked = await storage.revoke_grant(grant_of(found))
        if not revoked.anything:
            return False
        detail = {"token_id": found.id, "via": "revocation"}
        if found.family_id is not None:
            detail["family_id"] = found.family_id
        await storage.record_event(
            events.TOKEN_REVOKED,
            user_id=found.user_id,
            app_id=found.client_id,
            space_id=found.space_id,
            ip=request.client_ip,
            detail=detail,
        )
        return True


def grant_of(token: TokenInfo | RefreshTokenRecord) -> GrantSelector:
    """What revoking ``token`` takes: a refresh token's whole family; an access token with the
    family it belongs to, if any (:class:`TokenGrant`)."""
    if isinstance(token, RefreshTokenRecord):
        return FamilyGrant(token.family_id)
    return TokenGrant(token.id)
