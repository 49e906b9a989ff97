"""SQL storage for :class:`frontdesk.oauth.storage.RefreshStore`."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.security.keyring import Keyring


class RefreshStorageMixin:
    """Refresh tokens (rotation, families, reuse detection):
    mixed into :class:`frontdesk.store.oauth_storage.SqlStorage`."""

    db: AsyncSession
    keyring: Keyring
