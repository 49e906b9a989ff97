"""SQL storage for :class:`frontdesk.oauth.storage.KeyStore`: signing keys and user claims.

Signing keys are RSA 2048 (RS256). The ``kid`` is the key's RFC 7638 thumbprint. The public
half is kept as a JWK; the private half as JWK JSON sealed with the server secret (AES-256-GCM,
bound to the kid), so the database never holds it in clear. The newest key that is not
retired signs; retired keys stay published for a while so earlier signatures still verify.

The server reads them through the caching layer (:class:`frontdesk.store.caching.CachingStorage`),
so signing an ID token does not read the table every time; a rotation anywhere reaches every
worker like any other write.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from joserfc.jwk import RSAKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.oauth.storage import SigningKeyPair
from frontdesk.security.server_secret import ServerSecret
from frontdesk.store.models import SigningKey
from frontdesk.store.types import utcnow

log = logging.getLogger(__name__)

ALG = "RS256"
KEY_SIZE = 2048


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


# ---- key material ------------------------------------------------------------------------------


def generate_key() -> RSAKey:
    """A new RSA 2048 key with ``kid`` = its RFC 7638 thumbprint (CPU-heavy: run in a thread)."""
    return RSAKey.generate_key(KEY_SIZE, parameters={"use": "sig", "alg": ALG}, private=True, auto_kid=True)


def public_jwk(key: RSAKey) -> dict[str, Any]:
    jwk: dict[str, Any] = dict(key.as_dict(private=False))
    jwk.update({"kid": key.kid, "use": "sig", "alg": ALG})
    return jwk


def seal(server_secret: ServerSecret, key: RSAKey) -> str:
    assert key.kid is not None
    return server_secret.encrypt(json.dumps(key.as_dict(private=True)), seal_context(key.kid))


def unseal(server_secret: ServerSecret, kid: str, sealed: str) -> RSAKey:
    """The private key; raises :class:`InvalidTag` when the server secret has changed."""
    return RSAKey.import_key(json.loads(server_secret.decrypt(sealed, seal_context(kid))))


def _record(row: SigningKey) -> KeyRecord:
    return KeyRecord(
        kid=row.kid,
        alg=row.alg,
        public_jwk=dict(row.public_jwk),
        created_at=row.created_at,
        retired_at=row.retired_at,
    )


async def add_key(db: AsyncSession, server_secret: ServerSecret) -> SigningKeyPair:
    """Generate a key and stage it in ``db``'s transaction (flushed, not committed)."""
    key = await asyncio.to_thread(generate_key)
    assert key.kid is not None
    db.add(
        SigningKey(
            kid=key.kid,
            alg=ALG,
            public_jwk=public_jwk(key),
            private_sealed=seal(server_secret, key),
            created_at=utcnow(),
        )
    )
    await db.flush()
    return SigningKeyPair(kid=key.kid, alg=ALG, private_key=key)


async def load_keys(
    db: AsyncSession, server_secret: ServerSecret, previous: LoadedKeys | None = None
) -> LoadedKeys:
    """Every key (newest first) and the signing key. ``previous`` spares unsealing the
    signing key again when it has not changed (importing an RSA key is slow)."""
    rows = (
        (await db.execute(select(SigningKey).order_by(SigningKey.created_at.desc(), SigningKey.kid)))
        .scalars()
        .all()
    )
    records = tuple(_record(row) for row in rows)
    signing: SigningKeyPair | None = None
    for row in rows:
        if row.retired_at is not None:
            continue
        if previous is not None and previous.signing is not None and previous.signing.kid == row.kid:
            signing = previous.signing
            break
        try:
            private = await asyncio.to_thread(unseal, server_secret, row.kid, row.private_sealed)
        except InvalidTag:
            # Sealed under another server secret: it can still be published, not used.
            log.warning("signing key %s cannot be unsealed with this server secret; skipped", row.kid)
            continue
        signing = SigningKeyPair(kid=row.kid, alg=row.alg, private_key=private)
        break
    return LoadedKeys(records=records, signing=signing)


class KeyStorageMixin:
    """Signing keys for ID tokens and iframe contexts: mixed into
    :class:`frontdesk.store.sql_storage.SqlStorage`."""

    db: AsyncSession
    server_secret: ServerSecret

    async def signing_keys(self, previous: LoadedKeys | None = None) -> LoadedKeys:
        return await load_keys(self.db, self.server_secret, previous)

    async def signing_key(self) -> SigningKeyPair:
        loaded = await self.signing_keys()
        if loaded.signing is not None:
            return loaded.signing
        # First use: create a key in this transaction, so it is committed together with the
        # token it signs (or not at all). Two workers doing this at once create two keys;
        # both are valid and published, and the newer one signs from then on.
        return await add_key(self.db, self.server_secret)
