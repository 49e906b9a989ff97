"""SQL storage for :class:`frontdesk.oauth.storage.KeyStore`."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.security.keyring import Keyring


class KeyStorageMixin:
    """Signing keys for ID tokens and iframe contexts:
    mixed into :class:`frontdesk.store.oauth_storage.SqlStorage`."""

    db: AsyncSession
    keyring: Keyring
