"""SQL storage for :class:`frontdesk.oauth.storage.KeyStore`: signing keys and user claims.

Signing keys are RSA 2048 (RS256). The ``kid`` is the key's RFC 7638 thumbprint. The public
half is kept as a JWK; the private half as JWK JSON sealed with the server secret (AES-256-GCM,
bound to the kid), so the database never holds it in clear. The newest key that is not
retired signs; retired keys stay published for a while so earlier signatures still verify.

Loaded keys are cached per process and database for :data:`CACHE_SECONDS`, so signing an ID
token does not read the table every time; rotating in this process clears the cache.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from joserfc.jwk import RSAKey
from sqlalchemy import Engine, select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.oauth.storage import SigningKeyPair, SpaceRole, UserClaims
from frontdesk.security.keyring import Keyring
from frontdesk.store.models import Membership, SigningKey, Space, User
from frontdesk.store.types import utcnow

log = logging.getLogger(__name__)

ALG = "RS256"
KEY_SIZE = 2048
CACHE_SECONDS = 60.0


def seal_context(kid: str) -> str:
    return f"signing-key:{kid}"


@dataclass(frozen=True)
class KeyRecord:
    """A signing key's public facts (never its private half)."""

    kid: str
    alg: str
    public_jwk: dict[str, Any]
    created_at: datetime
    retired_at: datetime | None

    def published(self, now: datetime, retention: timedelta) -> bool:
        """Active keys are published; retired ones for ``retention`` after retirement."""
        return self.retired_at is None or self.retired_at + retention > now


@dataclass(frozen=True)
class LoadedKeys:
    records: tuple[KeyRecord, ...]  # newest first
    signing: SigningKeyPair | None
    expires: float  # time.monotonic()


class _KeyCache:
    """Per-process cache, one entry per database engine (so two apps in one process, as in
    the tests, never share keys). Entries vanish with their engine."""

    def __init__(self) -> None:
        self._entries: weakref.WeakKeyDictionary[Engine, LoadedKeys] = weakref.WeakKeyDictionary()

    def get(self, engine: Engine) -> LoadedKeys | None:
        entry = self._entries.get(engine)
        if entry is None or entry.expires <= time.monotonic():
            return None
        return entry

    def previous(self, engine: Engine) -> LoadedKeys | None:
        return self._entries.get(engine)

    def put(self, engine: Engine, entry: LoadedKeys) -> None:
        self._entries[engine] = entry

    def forget(self, engine: Engine | None = None) -> None:
        if engine is None:
            self._entries.clear()
        else:
            self._entries.pop(engine, None)


_cache = _KeyCache()


def _engine(db: AsyncSession) -> Engine:
    bind = db.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def forget_cached_keys(db: AsyncSession | None = None) -> None:
    """Drop this process's cached keys (for ``db``'s database, or all)."""
    _cache.forget(_engine(db) if db is not None else None)


# ---- key material ------------------------------------------------------------------------------


def generate_key() -> RSAKey:
    """A new RSA 2048 key with ``kid`` = its RFC 7638 thumbprint (CPU-heavy: run in a thread)."""
    return RSAKey.generate_key(KEY_SIZE, parameters={"use": "sig", "alg": ALG}, private=True, auto_kid=True)


def public_jwk(key: RSAKey) -> dict[str, Any]:
    jwk: dict[str, Any] = dict(key.as_dict(private=False))
    jwk.update({"kid": key.kid, "use": "sig", "alg": ALG})
    return jwk


def seal(keyring: Keyring, key: RSAKey) -> str:
    assert key.kid is not None
    return keyring.encrypt(json.dumps(key.as_dict(private=True)), seal_context(key.kid))


def unseal(keyring: Keyring, kid: str, sealed: str) -> RSAKey:
    """The private key; raises :class:`InvalidTag` when the server secret has changed."""
    return RSAKey.import_key(json.loads(keyring.decrypt(sealed, seal_context(kid))))


def _record(row: SigningKey) -> KeyRecord:
    return KeyRecord(
        kid=row.kid,
        alg=row.alg,
        public_jwk=dict(row.public_jwk),
        created_at=row.created_at,
        retired_at=row.retired_at,
    )


async def add_key(db: AsyncSession, keyring: Keyring) -> SigningKeyPair:
    """Generate a key and stage it in ``db``'s transaction (flushed, not committed)."""
    key = await asyncio.to_thread(generate_key)
    assert key.kid is not None
    db.add(
        SigningKey(
            kid=key.kid,
            alg=ALG,
            public_jwk=public_jwk(key),
            private_sealed=seal(keyring, key),
            created_at=utcnow(),
        )
    )
    await db.flush()
    return SigningKeyPair(kid=key.kid, alg=ALG, private_key=key)


async def load_keys(db: AsyncSession, keyring: Keyring, *, cached: bool = True) -> LoadedKeys:
    """Every key (newest first) and the signing key, from the cache when fresh."""
    engine = _engine(db)
    if cached:
        hit = _cache.get(engine)
        if hit is not None:
            return hit
    rows = (
        (await db.execute(select(SigningKey).order_by(SigningKey.created_at.desc(), SigningKey.kid)))
        .scalars()
        .all()
    )
    records = tuple(_record(row) for row in rows)
    previous = _cache.previous(engine)
    signing: SigningKeyPair | None = None
    for row in rows:
        if row.retired_at is not None:
            continue
        if previous is not None and previous.signing is not None and previous.signing.kid == row.kid:
            signing = previous.signing  # unchanged: skip the (slow) key import
            break
        try:
            private = await asyncio.to_thread(unseal, keyring, row.kid, row.private_sealed)
        except InvalidTag:
            # Sealed under another server secret: it can still be published, not used.
            log.warning("signing key %s cannot be unsealed with this server secret; skipped", row.kid)
            continue
        signing = SigningKeyPair(kid=row.kid, alg=row.alg, private_key=private)
        break
    entry = LoadedKeys(records=records, signing=signing, expires=time.monotonic() + CACHE_SECONDS)
    if signing is not None:
        # Without a signing key the next call must look again (one is about to be created).
        _cache.put(engine, entry)
    return entry


class KeyStorageMixin:
    """Signing keys for ID tokens and iframe contexts, and the claims OpenID Connect reports
    about a user: mixed into :class:`frontdesk.store.oauth_storage.SqlStorage`."""

    db: AsyncSession
    keyring: Keyring

    async def signing_key(self) -> SigningKeyPair:
        loaded = await load_keys(self.db, self.keyring)
        if loaded.signing is not None:
            return loaded.signing
        # First use: create a key in this transaction, so it is committed together with the
        # token it signs (or not at all). Two workers doing this at once create two keys;
        # both are valid and published, and the newer one signs from then on.
        pair = await add_key(self.db, self.keyring)
        forget_cached_keys(self.db)
        return pair

    async def get_user_claims(self, user_id: str, space_id: str | None) -> UserClaims | None:
        user = await self.db.get(User, user_id)
        if user is None:
            return None
        space_role: SpaceRole | None = None
        if space_id is not None:
            row = (
                await self.db.execute(
                    select(Space.id, Space.subdomain, Membership.role)
                    .outerjoin(
                        Membership, (Membership.space_id == Space.id) & (Membership.user_id == user_id)
                    )
                    .where(Space.id == space_id)
                )
            ).first()
            if row is not None:
                space_role = SpaceRole(id=row[0], subdomain=row[1], role=row[2])
        return UserClaims(
            user_id=user.id,
            email=user.email,
            email_verified=False,
            name=user.name,
            space=space_role,
        )
