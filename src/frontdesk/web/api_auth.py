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
from functools import lru_cache
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.oauth.bearer import extract_token
from frontdesk.oauth.errors import InvalidToken, OAuthError
from frontdesk.oauth.models import TokenInfo
from frontdesk.services.spaces import membership_of
from frontdesk.services.throttle import Rule
from frontdesk.store.cache import MISSING, PROFILES, read_through
from frontdesk.store.models import Membership, Space, User
from frontdesk.web.deps import get_state
from frontdesk.web.oauth_glue import form_pairs, storage_for


class ApiError(Exception):
    """A JSON API error that is not about the token: ``{"error": code, "error_description": …}``."""

    def __init__(self, status_code: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status_code = status_code
        self.error = error
        self.description = description


class RateLimited(OAuthError):
    """429 with ``Retry-After``: too many requests for this user and app (or this address)."""

    error = "too_many_requests"
    default_status = 429


@lru_cache(maxsize=8)
def rate_rule(name: str, spec: str) -> Rule | None:
    """The rule for a configured ``limits`` spec; ``None`` when the limit is switched off."""
    return Rule.parse(name, spec) if spec else None


@dataclass(frozen=True, slots=True)
class Person:
    """The user a token acts for (a snapshot, cached per worker)."""

    id: str
    email: str
    name: str


@dataclass
class Caller:
    """Who is calling the API: the validated token and the user it acts for."""

    token: TokenInfo
    raw: str
    user: Person


async def presented_token(request: Request) -> str | None:
    return extract_token(
        request.headers.get("authorization"),
        tuple(request.query_params.multi_items()),
        await form_pairs(request),
    )


async def caller_for(request: Request, db: AsyncSession, raw: str | None) -> Caller:
    st = get_state(request)
    info = await st.oauth.bearer.validate(raw, storage_for(db, st.keyring).lookup_token)
    assert raw is not None
    if info.space_id is None:
        user = await _person(db, info.user_id)
    else:
        user = await _space_token_actor(db, info.space_id, info.user_id)
    st.db.cache.touch(info.id)
    request.state.api_caller = info
    return Caller(token=info, raw=raw, user=user)


def _profile_key(user_id: str, space_id: str | None) -> tuple[str, ...]:
    """The profile cache's key for who a token acts as: its user, or (space tokens) the actor."""
    return ("user", user_id) if space_id is None else ("actor", space_id, user_id)


async def _cached(db: AsyncSession, key: tuple[str, ...], load: Callable[[], Awaitable[Person]]) -> Person:
    return await read_through(db, PROFILES, key, load)  # type: ignore[no-any-return]


async def _person(db: AsyncSession, user_id: str) -> Person:
    async def load() -> Person:
        user = await db.get(User, user_id)
        if user is None:
            raise InvalidToken("the token's user no longer exists")
        return Person(id=user.id, email=user.email, name=user.name)

    return await _cached(db, _profile_key(user_id, None), load)


async def _space_token_actor(db: AsyncSession, space_id: str, creator_id: str) -> Person:
    async def load() -> Person:
        membership = await membership_of(db, space_id, creator_id)
        if membership is not None and membership.role == "admin":
            return await _person(db, creator_id)
        space = await db.get(Space, space_id)
        if space is None:
            raise InvalidToken("the token's space no longer exists")
        return await _person(db, space.owner_id)

    return await _cached(db, _profile_key(creator_id, space_id), load)


async def _rate_limit(request: Request, token: TokenInfo) -> None:
    """Per user and app (Cobot: 60 requests a minute), shared by all workers through Redis."""
    st = get_state(request)
    rule = rate_rule("api", st.settings.api_rate_limit)
    if rule is None:
        return
    wait = await st.throttle.consume(rule, f"{token.user_id}:{token.client_id}")
    if wait is not None:
        raise RateLimited(f"too many requests; retry in {wait} seconds", retry_after=wait)


def _cached_caller(request: Request, raw: str) -> Caller | None:
    """The caller from this worker's caches alone (no database session at all), or None."""
    st = get_state(request)
    caches = st.db.cache
    info = caches.tokens.get(st.keyring.digest(raw))
    if info is MISSING or info is None or not st.oauth.bearer.usable(info):
        return None
    person = caches.profiles.get(_profile_key(info.user_id, info.space_id))
    if person is MISSING:
        return None
    caches.touch(info.id)
    request.state.api_caller = info
    return Caller(token=info, raw=raw, user=person)


async def authenticate(request: Request, scope: str | None) -> Caller:
    """A valid bearer token (RFC 6750 §2) holding ``scope`` (§3.1), within the rate limit."""
    raw = await presented_token(request)
    st = get_state(request)
    caller = _cached_caller(request, raw) if raw is not None else None
    if caller is None:
        async with st.db.session() as db:
            caller = await caller_for(request, db, raw)
    await _rate_limit(request, caller.token)
    if scope is not None:
        st.oauth.bearer.require_scope(caller.token, scope)
    return caller


def require(scope: str | None) -> Callable[[Request], Awaitable[Caller]]:
    """A dependency around :func:`authenticate`."""

    async def dependency(request: Request) -> Caller:
        return await authenticate(request, scope)

    return dependency


ReadUser = Annotated[Caller, Depends(require("read_user"))]
ReadMemberships = Annotated[Caller, Depends(require("read_memberships"))]
AnyToken = Annotated[Caller, Depends(require(None))]


async def space_rights(db: AsyncSession, caller: Caller, space: Space, *, admin: bool) -> Membership | None:
    """Check that the caller may act in ``space``; raises a 403 otherwise."""
    token = caller.token
    if token.space_id is not None:
        if token.space_id != space.id:
            raise ApiError(403, "forbidden", "this space token belongs to another space")
        return None
    membership = await membership_of(db, space.id, caller.user.id)
    if membership is None or (admin and membership.role != "admin"):
        needed = "an admin" if admin else "a member"
        raise ApiError(403, "forbidden", f"the token's user is not {needed} of this space")
    return membership


__all__ = ["ApiError", "Caller", "OAuthError", "RateLimited", "require", "space_rights"]
