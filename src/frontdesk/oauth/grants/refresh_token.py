"""The refresh token grant with rotation and reuse detection (RFC 6749 §6, RFC 9700 §4.14).

* The client authenticates as at every grant (a public client by its ``client_id``), and the
  refresh token must have been issued to it (§6); another client's token is ``invalid_grant``
  and left untouched.
* ``scope`` may narrow the new access token; asking for anything the grant did not have is
  ``invalid_scope`` (§6). The new refresh token keeps the grant's full scope.
* The presented token is rotated by one atomic conditional update, so of concurrent refreshes
  with one token exactly one succeeds. Errors after that (scope, issuer) roll the rotation back:
  a bad request does not burn a good token.
* Presenting a rotated (or revoked) token again means it leaked, or the client lost track:
  the whole family is revoked, refresh and access tokens alike (RFC 9700 §4.14.2), and the
  answer is ``invalid_grant``.
* **Grace window.** A token rotated less than :data:`REUSE_GRACE_SECONDS` ago is refused
  *without* revoking the family: two tabs or workers of one app refreshing at the same moment
  must not log the person out. Nothing is issued for it (the raw successor is not kept, so it
  cannot be handed out again); the client goes on with the token the winning request got.
* A refresh token redeems at the issuer that minted it or at the main host's token endpoint,
  like a code; never at another space's host.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import ClassVar, NoReturn

from frontdesk import events
from frontdesk.oauth.dpop import InvalidDpopProof
from frontdesk.oauth.errors import InvalidGrant
from frontdesk.oauth.grants import Grant
from frontdesk.oauth.refresh import RotatedRefreshToken
from frontdesk.oauth.resource import narrowed, requested_resource
from frontdesk.oauth.scopes import parse_scope, scopes_within
from frontdesk.oauth.storage import FamilyGrant, RefreshTokenRecord
from frontdesk.oauth.tokens import IssueRequest, TokenResponse

REUSE_GRACE_SECONDS = 10


class RefreshTokenGrant(Grant):
    grant_type = "refresh_token"
    reuse_grace: ClassVar[timedelta] = timedelta(seconds=REUSE_GRACE_SECONDS)

    record: RefreshTokenRecord
    scopes: tuple[str, ...]
    audience: str | None = None

    async def validate_token_request(self) -> None:
        ctx = self.ctx
        raw = ctx.params.require("refresh_token")
        requested = parse_scope(ctx.params.get("scope"))
        # RFC 8707 §2.2: the family's resource, or a first narrowing; checked before rotating.
        resource = await requested_resource(ctx.request, ctx.params.values("resource"))
        now = ctx.config.clock()
        rotation = await ctx.storage.rotate_refresh_token(raw, self.client.client_id, now)
        record = rotation.rotated
        if record is None:
            await self._refuse(rotation.found, now)
        # From here an error rolls the rotation back (nothing is committed before the response).
        request = ctx.request
        if request.space_id is not None and record.issuer is not None and request.issuer != record.issuer:
            raise InvalidGrant("the refresh token was issued by another issuer")
        self.scopes = scopes_within(requested, record.scopes, "refresh token")
        self.audience = narrowed(record.audience, resource)
        self._check_binding(record)
        self.record = record

    def _check_binding(self, record: RefreshTokenRecord) -> None:
        """RFC 9449 §5: a bound refresh token needs a proof made with its key."""
        if record.dpop_jkt is None:
            return
        if self.ctx.dpop_jkt is None:
            raise InvalidDpopProof(
                "this refresh token is bound to a DPoP key: send a DPoP proof made with it"
            )
        if self.ctx.dpop_jkt != record.dpop_jkt:
            raise InvalidGrant("the refresh token is bound to another DPoP key")

    async def _refuse(self, found: RefreshTokenRecord | None, now: datetime) -> NoReturn:
        """Why the token could not be rotated; revokes its family when it was used before."""
        if found is None:
            raise InvalidGrant("unknown refresh token")
        if found.client_id != self.client.client_id:
            raise InvalidGrant("the refresh token was issued to another client")
        if found.rotated_at is None and found.revoked_at is None:
            if found.expires_at is not None and found.expires_at <= now:
                raise InvalidGrant("the refresh token expired")
            raise InvalidGrant("the refresh token could not be used; try again")
        storage = self.ctx.storage
        if found.revoked_at is not None:
            # Revocation takes the whole family already; make sure of it all the same. (A
            # revoked token presented again is no sign of theft: tokens derived from the
            # family, such as space tokens, stay.)
            await storage.revoke_grant(FamilyGrant(found.family_id))
            raise InvalidGrant("the refresh token was revoked", persist=True)
        assert found.rotated_at is not None
        if now - found.rotated_at < self.reuse_grace:
            raise InvalidGrant("the refresh token was just used; continue with the one issued then")
        await storage.revoke_grant(FamilyGrant(found.family_id), descendants=True)
        await storage.record_event(
            events.REFRESH_TOKEN_REUSED,
            user_id=found.user_id,
            app_id=found.client_id,
            space_id=found.space_id,
            ip=self.ctx.request.client_ip,
            detail={"family_id": found.family_id},
        )
        raise InvalidGrant(
            "the refresh token was already used; every token of this grant is revoked", persist=True
        )

    async def create_token_response(self) -> TokenResponse:
        ctx = self.ctx
        record = self.record
        # The successor refresh token first, then the issuer's own extras (the ID token; the
        # extra that starts families does nothing for this grant).
        issuer = ctx.issuer.with_extras([RotatedRefreshToken(record)])
        issued = await issuer.issue(
            ctx.storage,
            IssueRequest(
                client=self.client,
                user_id=record.user_id,
                scopes=self.scopes,
                grant_type=self.grant_type,
                issuer=record.issuer or ctx.request.issuer,
                space_id=record.space_id,
                code_id=record.code_id,
                parent_id=record.access_token_id,
                family_id=record.family_id,
                auth_time=record.auth_time,
                auth_space_id=record.auth_space_id,
                amr=record.amr,
                ip=ctx.request.client_ip,
                audience=self.audience,
                sid=record.sid,
            ),
        )
        return issued.response
