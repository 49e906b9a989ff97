"""The apps a browser session signed in to, and the end of sessions (OpenID Connect
Back-Channel Logout 1.0).

**Signing in.** A code issued in a browser session (oauth/authorize.py ``issue_code``, stored
by ``SqlStorage.save_code``) carries the session's public id (``sid``, indexed): the apps a
session signed in to, and the issuer each was told, are those of its codes. Issuing a code, on
the hot path of every authorization, writes nothing more.

**Ending.** Every way a browser session ends goes through :func:`end_sessions` (logging out,
the sessions page, "sign out everywhere", a password change or reset, a disabled account): in
the caller's transaction it marks the sessions revoked and queues, for each app the session
signed in to that registered a ``backchannel_logout_uri``, one logout notice in the email
outbox (store/email_outbox.py, template :data:`BACKCHANNEL_LOGOUT`; issue 13: "delivered from
the same outbox as email"). The email worker signs the logout token (§2.4) when it sends it
and POSTs it (§2.5) through the address-checked sender (services/backchannel.py).
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.security.server_secret import ServerSecret
from frontdesk.store import email_outbox
from frontdesk.store.models import App, AuthorizationCode, LoginSession
from frontdesk.store.types import utcnow

# The email outbox's template name of a back-channel logout notice.
BACKCHANNEL_LOGOUT: Final = "backchannel_logout"


async def end_sessions(db: AsyncSession, server_secret: ServerSecret, condition: ColumnElement[bool]) -> int:
    """End the live sessions matching ``condition`` and queue their back-channel logout
    notices; how many ended."""
    live = condition & LoginSession.revoked_at.is_(None)
    ids = list((await db.execute(select(LoginSession.id).where(live))).scalars())
    if not ids:
        return 0
    await db.execute(
        update(LoginSession)
        .where(LoginSession.id.in_(ids), LoginSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    await queue_logouts(db, server_secret, ids)
    return len(ids)


async def queue_logouts(db: AsyncSession, server_secret: ServerSecret, session_ids: list[str]) -> int:
    """One back-channel logout notice per (ended session, app with a ``backchannel_logout_uri``
    it signed in to); how many were queued."""
    rows = (
        await db.execute(
            select(
                AuthorizationCode.issuer,
                AuthorizationCode.app_id,
                App.backchannel_logout_uri,
                LoginSession.user_id,
                LoginSession.public_id,
            )
            .distinct()
            .join(App, App.client_id == AuthorizationCode.app_id)
            .join(LoginSession, LoginSession.public_id == AuthorizationCode.sid)
            .where(LoginSession.id.in_(session_ids), App.backchannel_logout_uri.is_not(None))
        )
    ).all()
    for issuer, client_id, uri, user_id, sid in rows:
        if not uri:
            continue
        context: dict[str, Any] = {"uri": uri, "iss": issuer, "aud": client_id, "sub": user_id, "sid": sid}
        await email_outbox.enqueue(
            db, server_secret, to=client_id, template=BACKCHANNEL_LOGOUT, context=context
        )
    return len(rows)
