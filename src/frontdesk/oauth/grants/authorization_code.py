"""The authorization code grant at the token endpoint (RFC 6749 §4.1.3–§4.1.4).

Doorkeeper's semantics: the code is consumed by an atomic conditional update before any other
check, so a code is burned even when the request is wrong, and two concurrent redemptions
yield one token. A code presented again fails with ``invalid_grant`` and revokes every token
it issued (§4.1.2, §10.5); the message says whether there were any (a code burned by a failed
exchange issued none: "already presented"). PKCE per RFC 7636 §4.6 with the downgrade defence.
A ``resource`` (RFC 8707 §2.2) must be the one the authorization request named, if it named one.
"""

from __future__ import annotations

from frontdesk import events
from frontdesk.oauth import pkce, redirect_uris
from frontdesk.oauth.dpop import InvalidDpopProof
from frontdesk.oauth.errors import InvalidGrant, OAuthError
from frontdesk.oauth.grants import Grant
from frontdesk.oauth.models import CodeRecord
from frontdesk.oauth.resource import narrowed, requested_resource
from frontdesk.oauth.storage import CodeGrant
from frontdesk.oauth.tokens import IssueRequest, TokenResponse


class AuthorizationCodeGrant(Grant):
    grant_type = "authorization_code"

    code: CodeRecord
    audience: str | None = None

    async def validate_token_request(self) -> None:
        params = self.ctx.params
        raw = params.require("code")
        resource = await requested_resource(self.ctx.request, params.values("resource"))
        redirect_uri = params.get("redirect_uri")
        verifier = params.get("code_verifier")
        storage = self.ctx.storage
        limiter = self.ctx.failure_limiter
        keys = await self.check_failure_throttle()
        consumed = await storage.consume_code(raw)
        if consumed.replayed_code_id is not None:
            # Everything the code led to goes: its tokens, their refresh families, and the
            # tokens derived from them since (refreshed and space tokens).
            revoked = await storage.revoke_grant(CodeGrant(consumed.replayed_code_id), descendants=True)
            detail = {"code_id": consumed.replayed_code_id, "revoked_tokens": revoked.tokens}
            ip = self.ctx.request.client_ip
            await storage.record_event(
                events.CODE_REPLAYED, app_id=self.client.client_id, ip=ip, detail=detail
            )
            # Say what happened: a code burned by a failed exchange issued nothing.
            if revoked.tokens:
                raise InvalidGrant(
                    "the authorization code was already used; its tokens are revoked", persist=True
                )
            raise InvalidGrant("this authorization code was already presented", persist=True)
        if consumed.code is None:
            if limiter is not None:  # guessing codes costs the guesser (RFC 6819 §5.1.4.2.3)
                await limiter.failed(keys)
            raise InvalidGrant("unknown authorization code")
        if limiter is not None:
            await limiter.succeeded(keys)
        self.code = consumed.code
        # The code is burned whatever happens next: a failed check persists the consumption.
        # On success the consumption commits together with the token, so a concurrent replay,
        # which waits for this transaction, finds the token to revoke.
        try:
            self._check_code(raw, redirect_uri, verifier)
            self.audience = narrowed(self.code.resource, resource)
        except OAuthError as exc:
            exc.persist = True
            raise

    def _check_code(self, raw_code: str, redirect_uri: str | None, verifier: str | None) -> None:
        code = self.code
        if code.client_id != self.client.client_id:
            raise InvalidGrant("the code was issued to another client")
        if code.expires_at <= self.ctx.config.clock():
            raise InvalidGrant("the authorization code expired")
        request = self.ctx.request
        # A code redeems at the issuer that minted it, or at the main host's token endpoint
        # (where Cobot clients always send it); never at another space's host.
        if request.space_id is not None and request.issuer != code.issuer:
            raise InvalidGrant("the code was issued by another issuer")
        self._check_redirect_uri(redirect_uri, raw_code)
        pkce.verify(code.code_challenge, verifier)
        # RFC 9449 §10: a code whose authorization request named a key (dpop_jkt) redeems
        # only with a proof made with it.
        if code.dpop_jkt is not None and code.dpop_jkt != self.ctx.dpop_jkt:
            raise InvalidDpopProof("the authorization request bound this code to another DPoP key")

    def _check_redirect_uri(self, sent: str | None, raw_code: str) -> None:
        code = self.code
        if sent is None:
            # docs/decisions.md §7: Cobot's documented exchange omits redirect_uri; strict mode follows
            # RFC 6749 §4.1.3 and requires it whenever the authorization request had one.
            if code.redirect_uri_sent and self.ctx.config.strict:
                raise InvalidGrant("redirect_uri is required: the authorization request had one")
            return
        if sent == code.redirect_uri:
            return
        # docs/decisions.md §8: a client may send back the URL it was called at, i.e. with the
        # code, state and iss this server appended; nothing else may differ, whatever the app's
        # settings (query-tolerant matching applies at the authorization endpoint only).
        if redirect_uris.matches_with_appended_response(
            sent, code.redirect_uri, code=raw_code, issuer=code.issuer
        ):
            return
        raise InvalidGrant("redirect_uri differs from the authorization request")

    async def create_token_response(self) -> TokenResponse:
        code = self.code
        issued = await self.ctx.issuer.issue(
            self.ctx.storage,
            IssueRequest(
                client=self.client,
                user_id=code.user_id,
                # Expanded when the code was issued (oauth/authorize.py).
                scopes=code.scopes,
                grant_type=self.grant_type,
                issuer=code.issuer,
                space_id=None,
                code_id=code.id,
                nonce=code.nonce,
                auth_time=code.auth_time,
                auth_space_id=code.space_id,
                ip=self.ctx.request.client_ip,
                audience=self.audience,
                sid=code.sid,
                amr=code.amr,
            ),
        )
        return issued.response
