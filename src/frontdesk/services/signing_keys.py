"""Signing keys for ID tokens: the published key set, rotation and listing.

Shared by the ``/jwks.json`` route and ``frontdesk keys``. The key material itself (generate,
seal, load, cache) lives in :mod:`frontdesk.store.key_storage`.

Rotation creates a new key that signs from then on and retires the previous one. A retired key
stays in the JWKS for :data:`DEFAULT_RETENTION` (so tokens it signed still verify), then drops
out of it; its row is kept. Other workers pick up a rotation as soon as the invalidation
reaches them (:mod:`frontdesk.store.invalidation`); until then they sign with the retired
key, which is still published.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.security.server_secret import ServerSecret
from frontdesk.services.work import AppStorage
from frontdesk.settings import Settings
from frontdesk.store.key_storage import KeyRecord, add_key, load_keys
from frontdesk.store.models import SigningKey
from frontdesk.store.types import utcnow

DEFAULT_RETENTION = timedelta(days=30)


def retention_for(settings: Settings) -> timedelta:
    """How long retired keys stay published (``FRONTDESK_SIGNING_KEY_RETENTION_DAYS``)."""
    return timedelta(days=settings.signing_key_retention_days)


@dataclass(frozen=True)
class KeyStatus:
    kid: str
    alg: str
    created_at: datetime
    retired_at: datetime | None
    published: bool
    signing: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "kid": self.kid,
            "alg": self.alg,
            "created_at": self.created_at.isoformat(),
            "retired_at": self.retired_at.isoformat() if self.retired_at else None,
            "published": self.published,
            "signing": self.signing,
        }


@dataclass(frozen=True)
class Rotation:
    kid: str
    retired: tuple[str, ...]


async def ensure_key(db: AsyncSession, server_secret: ServerSecret) -> str:
    """The signing key's kid, staging the first key when there is none."""
    loaded = await load_keys(db, server_secret)
    if loaded.signing is not None:
        return loaded.signing.kid
    return (await add_key(db, server_secret)).kid


async def published_jwks(
    storage: AppStorage, retention: timedelta = DEFAULT_RETENTION
) -> list[dict[str, Any]]:
    """The public JWKs to publish: the signing key first, then the others, newest first.
    When there is no key yet, the first one is staged in the caller's unit of work."""
    loaded = await storage.signing_keys()
    if loaded.signing is None:
        await storage.signing_key()
        loaded = await storage.signing_keys()
    now = utcnow()
    signing = loaded.signing.kid if loaded.signing else None
    records = sorted(loaded.records, key=lambda r: r.kid != signing)  # stable: newest first
    return [_jwk(r) for r in records if r.published(now, retention)]


def _jwk(record: KeyRecord) -> dict[str, Any]:
    jwk = dict(record.public_jwk)
    jwk.update({"kid": record.kid, "use": "sig", "alg": record.alg})
    return jwk


async def rotate(db: AsyncSession, server_secret: ServerSecret) -> Rotation:
    """Create a new signing key and retire every key that was signing. Once committed, every
    worker signs with the new key (the caches of every process drop the old set)."""
    now = utcnow()
    retired = (
        (
            await db.execute(
                update(SigningKey)
                .where(SigningKey.retired_at.is_(None))
                .values(retired_at=now)
                .returning(SigningKey.kid)
            )
        )
        .scalars()
        .all()
    )
    pair = await add_key(db, server_secret)
    return Rotation(kid=pair.kid, retired=tuple(sorted(retired)))


async def list_keys(
    db: AsyncSession, server_secret: ServerSecret, retention: timedelta = DEFAULT_RETENTION
) -> list[KeyStatus]:
    """Every key ever made, newest first (rows are never deleted)."""
    loaded = await load_keys(db, server_secret)
    now = utcnow()
    signing = loaded.signing.kid if loaded.signing else None
    return [
        KeyStatus(
            kid=r.kid,
            alg=r.alg,
            created_at=r.created_at,
            retired_at=r.retired_at,
            published=r.published(now, retention),
            signing=r.kid == signing,
        )
        for r in loaded.records
    ]
