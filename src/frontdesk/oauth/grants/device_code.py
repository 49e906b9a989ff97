"""The device authorization grant at the token endpoint (RFC 8628 §3.4–§3.5).

The device polls with its device code. Until the person decides the answer is
``authorization_pending``; a poll sooner than the interval after the previous one is
``slow_down``, and the interval grows by 5 s for this and every later poll (§3.5): a device
that keeps polling too fast keeps being told so. ``access_denied`` once the person denied,
``expired_token`` once the code's lifetime is over. An approved code gives tokens once (an
atomic approved → used update); presented again it is ``invalid_grant``. Unknown device codes
count as failed redemptions, like unknown authorization codes (RFC 6819 §5.1.4.2.3).

Like an authorization code, a device code redeems at the host it was asked at or at the main
host's token endpoint, never at another space's host (oauth/grants/authorization_code.py).
"""

from __future__ import annotations

from datetime import timedelta

from frontdesk.oauth.device import GRANT_TYPE as DEVICE_GRANT_TYPE
from frontdesk.oauth.device import SLOW_DOWN_STEP, STORED_GRANT_TYPE
from frontdesk.oauth.errors import (
    AccessDenied,
    AuthorizationPending,
    ExpiredToken,
    InvalidGrant,
    SlowDown,
)
from frontdesk.oauth.grants import Grant
from frontdesk.oauth.storage import (
    DEVICE_APPROVED,
    DEVICE_DENIED,
    DEVICE_PENDING,
    DeviceAuthorization,
)
from frontdesk.oauth.tokens import IssueRequest, TokenResponse

# Network jitter between two polls sent exactly ``interval`` apart: a poll this share of the
# interval early still counts as on time.
POLL_SLACK = 0.2


class DeviceCodeGrant(Grant):
    grant_type = DEVICE_GRANT_TYPE

    authorization: DeviceAuthorization

    async def validate_token_request(self) -> None:
        raw = self.ctx.params.require("device_code")
        storage = self.ctx.storage
        limiter = self.ctx.failure_limiter
        request = self.ctx.request
        keys = await self.check_failure_throttle()
        now = self.ctx.config.clock()
        found = await storage.poll_device(raw, now)
        if found is None or found.client_id != self.client.client_id:
            if limiter is not None:
                await limiter.failed(keys)
            raise InvalidGrant("unknown device code")
        if request.space_id is not None and request.issuer != found.issuer:
            raise InvalidGrant("the device code was issued by another issuer", persist=True)
        if found.status not in (DEVICE_PENDING, DEVICE_APPROVED, DEVICE_DENIED):
            raise InvalidGrant("the device code was already used", persist=True)
        if found.expires_at <= now:
            raise ExpiredToken("the device code expired; start again on the device", persist=True)
        if found.status == DEVICE_DENIED:
            # §3.5: a token endpoint error (RFC 6749 §5.2), so 400 like the others.
            raise AccessDenied("the user denied the request", status_code=400, persist=True)
        if found.status == DEVICE_PENDING:
            previous = found.last_polled_at
            early = timedelta(seconds=found.interval * (1 - POLL_SLACK))
            if previous is not None and now - previous < early:
                slower = found.interval + SLOW_DOWN_STEP
                await storage.slow_device(found.id, slower)
                raise SlowDown(f"poll at most every {slower} seconds", persist=True)
            raise AuthorizationPending("the user has not decided yet", persist=True)
        if not await storage.redeem_device(found.id):
            raise InvalidGrant("the device code was already used", persist=True)
        if limiter is not None:
            await limiter.succeeded(keys)
        self.authorization = found

    async def create_token_response(self) -> TokenResponse:
        found = self.authorization
        assert found.user_id is not None
        issued = await self.ctx.issuer.issue(
            self.ctx.storage,
            IssueRequest(
                client=self.client,
                user_id=found.user_id,
                scopes=found.scopes,
                grant_type=STORED_GRANT_TYPE,
                issuer=found.issuer,
                space_id=None,
                auth_time=found.auth_time,
                # The space whose host the device asked at, as for a code from that host.
                auth_space_id=found.space_id,
                ip=self.ctx.request.client_ip,
                sid=found.sid,
                amr=found.amr,
            ),
        )
        return issued.response
