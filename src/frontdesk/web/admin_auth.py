"""Who may call the admin API (``/api/admin/…``, docs/integrating.md "Admin API").

The one authentication of operator endpoints: a bearer token (RFC 6750 §2) from the
client_credentials grant (RFC 6749 §4.4), issued to an app the operator gave administrative
scopes (``frontdesk clients update --admin-scopes …``), holding the scope the endpoint names
(``admin:<resource>:read`` or ``admin:<resource>:write``; ``write`` does not imply ``read``).

* no token: 401 with a bare ``Bearer`` challenge; a bad, revoked or expired token: 401
  ``invalid_token`` (RFC 6750 §3.1);
* a token of a person (any other grant), or one without the scope: 403 ``insufficient_scope``
  naming the scope;
* a token requested for another resource (RFC 8707 ``resource=``): 401 ``invalid_token``;
* more than ``FRONTDESK_ADMIN_API_RATE_LIMIT`` requests of one app: 429 with ``Retry-After``;
* only on the main host: a space's host answers 404.

Use it as a dependency: ``caller: Annotated[AdminCaller, Depends(require_admin("admin:users:read"))]``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from frontdesk import events
from frontdesk.oauth.errors import InsufficientScope
from frontdesk.oauth.models import TokenInfo
from frontdesk.services.work import UnitOfWork
from frontdesk.web.adapter import get_state, unit_of_work
from frontdesk.web.api_auth import host_resource, presentation, presented_token, rate_limit
from frontdesk.web.errors import ApiError

GRANT = "client_credentials"


@dataclass(frozen=True, slots=True)
class AdminCaller:
    """An administrative app calling the admin API: its token, and where it calls from."""

    token: TokenInfo
    ip: str
    uow: UnitOfWork

    @property
    def client_id(self) -> str:
        return self.token.client_id

    async def record(self, action: str, **detail: Any) -> None:
        """The ``admin.action`` audit event for a change made through the admin API (every
        write records one, besides the events of what it changed)."""
        ids = {k: v for k, v in detail.items() if v is not None}
        await self.uow.storage.record_event(
            events.ADMIN_ACTION,
            app_id=self.client_id,
            user_id=ids.get("user_id"),
            space_id=ids.get("space_id"),
            ip=self.ip,
            detail={"action": action, **ids},
        )


async def authenticate_admin(request: Request, uow: UnitOfWork, scope: str) -> AdminCaller:
    """The administrative token of this request holding ``scope`` (RFC 6750 §3.1 otherwise)."""
    site = request.state.site
    if site.space is not None:
        raise ApiError(404, "not_found", "the admin API lives on the main host")
    st = get_state(request)
    bearer = st.oauth.bearer
    # A token requested for another resource is refused, as at every API (RFC 8707).
    raw = await presented_token(request)
    info = await bearer.validate(raw, uow.storage, host_resource(request), presentation(request, raw))
    if info.user_id is not None or info.grant_type != GRANT:
        raise InsufficientScope(
            scope, f"the admin API needs a client_credentials token of an administrative app holding {scope}"
        )
    await rate_limit(st, st.rules.admin_api, info.client_id)
    bearer.require_scope(info, scope)
    uow.storage.note_token_use(info.id)
    return AdminCaller(token=info, ip=request.state.client_ip, uow=uow)


def require_admin(scope: str) -> Callable[[Request], Awaitable[AdminCaller]]:
    """A dependency around :func:`authenticate_admin`, in the request's unit of work."""

    async def dependency(request: Request) -> AdminCaller:
        return await authenticate_admin(request, unit_of_work(request), scope)

    dependency.__name__ = f"require_{scope.replace(':', '_')}"
    return dependency


__all__ = ["AdminCaller", "authenticate_admin", "require_admin"]
