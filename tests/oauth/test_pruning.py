"""``frontdesk db prune`` (store/pruning.py, docs/operations.md "Pruning"): what has been dead
for the grace period goes; nothing that can still have an effect does."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update

from frontdesk.services import pruning
from frontdesk.store import email_outbox
from frontdesk.store.models import (
    AccessToken,
    AuditEvent,
    AuthorizationCode,
    EmailMessage,
    LoginSession,
    RefreshToken,
)
from frontdesk.store.types import utcnow
from tests.oauth.test_revocation import api_status, assert_ok, refresh, revoke, start
from tests.oauth_support import RegisteredApp, exchange, get_code
from tests.support import Browser, csrf_from

LONG_AGO = timedelta(days=8)  # past the default grace of 7 days


async def rows(db: Any, model: Any, *where: Any) -> int:
    await db.rollback()  # a fresh snapshot: the pruning ran in units of work of its own
    return int((await db.execute(select(func.count()).select_from(model).where(*where))).scalar_one())


async def age(db: Any, column: Any, *where: Any) -> None:
    """Move ``column`` (an end: expiry, revocation, rotation) eight days into the past."""
    await db.execute(update(column.class_).where(*where).values({column.key: utcnow() - LONG_AGO}))
    await db.commit()


async def prune(state: Any, **options: Any) -> dict[str, int]:
    return await pruning.prune(state.db, **options)


async def test_dead_tokens_go_and_live_ones_keep_working(
    state: Any, db: Any, logged_in: Browser, registered: RegisteredApp
) -> None:
    kept = (await start(logged_in, registered))["access_token"]
    dead = (await start(logged_in, registered))["access_token"]
    recent = (await start(logged_in, registered))["access_token"]
    assert_ok(await revoke(logged_in, registered, dead))
    await age(db, AccessToken.revoked_at, AccessToken.revoked_at.is_not(None))
    assert_ok(await revoke(logged_in, registered, recent))  # revoked just now: within the grace

    counted = await prune(state, dry_run=True)
    assert counted["access_tokens"] == 1
    assert await rows(db, AccessToken) == 4  # the three and the app's test token: a dry run

    done = await prune(state)
    assert done["access_tokens"] == 1
    assert await rows(db, AccessToken) == 3
    assert await api_status(logged_in, kept) == 200
    assert await api_status(logged_in, dead) == 401
    assert await api_status(logged_in, recent) == 401
    assert (await prune(state))["access_tokens"] == 0  # nothing left to do


async def test_codes_stay_while_their_session_lives_then_go(
    state: Any, db: Any, logged_in: Browser, registered: RegisteredApp
) -> None:
    code = await get_code(logged_in, registered)
    first = await exchange(logged_in, registered, code)
    assert first.status_code == 200
    token = first.json()["access_token"]
    await age(db, AuthorizationCode.expires_at)
    # The session that signed in is alive: its codes say which apps to tell when it ends
    # (back-channel logout), so they stay although long expired.
    assert (await prune(state))["authorization_codes"] == 0
    assert await rows(db, AuthorizationCode) == 1

    home = await logged_in.get("/")
    assert (await logged_in.post("/logout", data={"csrf_token": csrf_from(home.text)})).status_code == 303
    await age(db, LoginSession.revoked_at, LoginSession.revoked_at.is_not(None))
    done = await prune(state)
    assert done["sessions"] == 1 and done["authorization_codes"] == 1
    assert await rows(db, AuthorizationCode) == 0 and await rows(db, LoginSession) == 0
    # Tokens issued from a pruned code work on; the code itself is unknown now.
    assert await api_status(logged_in, token) == 200
    replay = await exchange(logged_in, registered, code)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"


async def test_rotated_refresh_tokens_stay_while_their_family_lives(
    state: Any, db: Any, logged_in: Browser, expiring: RegisteredApp
) -> None:
    live = await start(logged_in, expiring)
    live_next = (await refresh(logged_in, expiring, live["refresh_token"])).json()
    ended = await start(logged_in, expiring)
    assert_ok(await revoke(logged_in, expiring, ended["refresh_token"], token_type_hint="refresh_token"))
    await age(db, RefreshToken.rotated_at, RefreshToken.rotated_at.is_not(None))
    await age(db, RefreshToken.revoked_at, RefreshToken.revoked_at.is_not(None))
    # Both first access tokens expired long ago; the refreshed one was made from the first.
    await age(
        db, AccessToken.expires_at, AccessToken.expires_at.is_not(None), AccessToken.parent_id.is_(None)
    )

    done = await prune(state)
    assert done["refresh_tokens"] == 1  # the revoked family's one token
    # An expired access token goes, unless a token made from it remains (revoking it must
    # reach that one): the first family's first token stays while its refreshed one exists.
    assert done["access_tokens"] == 1
    assert await rows(db, RefreshToken) == 2
    # The rotated token still detects reuse: presenting it again ends its family.
    replayed = await refresh(logged_in, expiring, live["refresh_token"])
    assert replayed.status_code == 400
    assert (await refresh(logged_in, expiring, live_next["refresh_token"])).status_code == 400
    assert await api_status(logged_in, live_next["access_token"]) == 401


async def test_outbox_and_audit_retention(state: Any, db: Any, logged_in: Browser) -> None:
    for _ in range(3):
        await email_outbox.enqueue(db, state.server_secret, to="x@example.com", template="verify", context={})
    await db.commit()
    sent = list((await db.execute(select(EmailMessage.id))).scalars())
    await db.execute(update(EmailMessage).where(EmailMessage.id.in_(sent[:2])).values(status="sent"))
    await db.execute(
        update(EmailMessage).where(EmailMessage.id == sent[0]).values(sent_at=utcnow() - timedelta(days=31))
    )
    await db.execute(
        update(EmailMessage).where(EmailMessage.id == sent[1]).values(sent_at=utcnow() - timedelta(days=2))
    )
    await age(db, AuditEvent.created_at)
    events = await rows(db, AuditEvent)
    assert events > 0

    done = await prune(state)
    assert done["email_messages"] == 1  # sent a month ago; the recent and the pending stay
    assert await rows(db, EmailMessage) == 2
    assert "audit_events" not in done and await rows(db, AuditEvent) == events  # kept by default

    done = await prune(state, audit_days=30)
    assert done["audit_events"] == 0
    done = await prune(state, audit_days=7)
    assert done["audit_events"] == events
    assert await rows(db, AuditEvent) == 0
