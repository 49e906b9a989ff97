"""Bearer authentication for the JSON API and the rights a token carries.

A token's rights are its scope *and* its holder's current role (Cobot: "a user's scope can be
limited when they access the API as an admin"): a user token reaches a space only while its
user is a member there (an admin, for admin endpoints). A space token reaches only its own
space, with admin rights; it acts for its creator while they are an admin of the space and
for the space's owner after that.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from frontdesk.oauth.bearer import AS_BEARER, DPOP, Presentation, extract_token
from frontdesk.oauth.errors import OAuthError
from frontdesk.oauth.models import Person, TokenInfo
from frontdesk.records import MembershipRecord, SpaceRef
from frontdesk.services.spaces import get_space, membership_of
from frontdesk.services.throttle import Rule
from frontdesk.services.work import UnitOfWork
from frontdesk.web.adapter import dpop_header, get_state, read_form, request_urls, unit_of_work
from frontdesk.web.errors import ApiError
from frontdesk.web.state import AppState


class RateLimited(OAuthError):
    """429 with ``Retry-After``: too many requests for this user and app (or this address)."""

    error = "too_many_requests"
    default_status = 429


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling the API: the validated token and the person it acts for."""

    token: TokenInfo
    user: Person


async def presented_token(request: Request) -> str | None:
    return extract_token(
        request.headers.get("authorization"),
        tuple(request.query_params.multi_items()),
        await read_form(request),
    )


def presentation(request: Request, raw: str | None) -> Presentation:
    """How ``raw`` came (RFC 9449 §7.1): as ``Authorization: DPoP <raw>``, with the request's
    proof, method and URLs; else as a bearer token (header, form or query, or only in the path
    of ``/api/access_tokens/<token>``), which a bound token is not good for."""
    authorization = request.headers.get("authorization")
    if raw is None or not authorization or authorization[:5].lower() != DPOP + " ":
        return AS_BEARER
    if authorization[5:].strip() != raw:
        return AS_BEARER
    return Presentation(
        scheme=DPOP, proof=dpop_header(request), method=request.method, urls=request_urls(request)
    )


def host_resource(request: Request) -> str:
    """This host's protected resource (RFC 8707, oauth/resource.py): a token requested for
    another resource is refused here."""
    origin: str = request.state.site.origin
    return origin


async def caller_for(request: Request, uow: UnitOfWork, raw: str | None) -> Caller:
    """The caller for the token ``raw`` (RFC 6750 §2): valid for this host, and who it acts for."""
    bearer = await get_state(request).oauth.bearer.authenticate(
        raw, uow.storage, resource=host_resource(request), presentation=presentation(request, raw)
    )
    return Caller(token=bearer.token, user=bearer.person)


async def rate_limit(st: AppState, rule: Rule | None, key: str) -> None:
    """One request counted against ``rule`` for ``key`` (None: no limit), shared by all workers
    through Redis; :class:`RateLimited` (429 with ``Retry-After``) beyond it."""
    if rule is None:
        return
    wait = await st.throttle.consume(rule, key)
    if wait is not None:
        raise RateLimited(f"too many requests; retry in {wait} seconds", retry_after=wait)


async def _rate_limit(st: AppState, token: TokenInfo) -> None:
    """Per user and app (Cobot: 60 requests a minute)."""
    await rate_limit(st, st.rules.api, f"{token.user_id}:{token.client_id}")


async def authenticate(request: Request, uow: UnitOfWork, scope: str | None) -> Caller:
    """A valid bearer token of this request, within the rate limit, holding ``scope`` (§3.1),
    and meant for this host unless it was requested for no resource at all (RFC 8707)."""
    st = get_state(request)
    caller = await caller_for(request, uow, await presented_token(request))
    await _rate_limit(st, caller.token)
    if scope is not None:
        st.oauth.bearer.require_scope(caller.token, scope)
    return caller


def require(scope: str | None) -> Callable[[Request], Awaitable[Caller]]:
    """A dependency around :func:`authenticate`, in the request's unit of work."""

    async def dependency(request: Request) -> Caller:
        return await authenticate(request, unit_of_work(request), scope)

    return dependency


ReadUser = Annotated[Caller, Depends(require("read_user"))]
ReadMemberships = Annotated[Caller, Depends(require("read_memberships"))]
AnyToken = Annotated[Caller, Depends(require(None))]


async def space_rights(
    uow: UnitOfWork, caller: Caller, space: SpaceRef, *, admin: bool
) -> MembershipRecord | None:
    """Check that the caller may act in ``space``; raises a 403 otherwise."""
    token = caller.token
    if token.space_id is not None:
        if token.space_id != space.id:
            raise ApiError(403, "forbidden", "this space token belongs to another space")
        return None
    membership = await membership_of(uow.session, space.id, caller.user.id)
    if membership is None or (admin and not membership.is_admin):
        needed = "an admin" if admin else "a member"
        raise ApiError(403, "forbidden", f"the token's user is not {needed} of this space")
    return membership


async def admin_space(request: Request, uow: UnitOfWork, caller: Caller, *, elsewhere: str) -> SpaceRef:
    """The space of the request's host, which the caller administers (:func:`space_rights`);
    404 with ``elsewhere`` on the main host."""
    site = request.state.site
    if site.space is None:
        raise ApiError(404, "not_found", elsewhere)
    space = await get_space(uow.session, site.space.id)
    if space is None:
        raise ApiError(404, "not_found", "no such space")
    await space_rights(uow, caller, space, admin=True)
    return space


__all__ = ["ApiError", "Caller", "OAuthError", "RateLimited", "admin_space", "require", "space_rights"]
