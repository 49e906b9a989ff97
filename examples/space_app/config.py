"""The example's settings, read from environment variables."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from frontdesk.client import normalize_issuer

# What the app asks for when an admin logs in or installs it (the space token inherits it).
SCOPE = "openid profile email read_user navigation read_memberships"
# What the in-frame sign-in asks for: just who the person is.
FRAME_SCOPE = "openid email"
DEFAULT_DATA_DIR = Path(__file__).parent / ".data"


class ConfigError(ValueError):
    """A setting is missing or wrong; the message says what to do."""


@dataclass(frozen=True)
class Settings:
    """Where Frontdesk and the app live, and the app's credentials.

    ``FRONTDESK_URL`` (default ``http://localhost:8000``), ``SPACE_APP_CLIENT_ID``,
    ``SPACE_APP_CLIENT_SECRET``, ``SPACE_APP_URL`` (default ``http://localhost:9000``),
    ``SPACE_APP_SECRET`` (signs the session cookie; random per start when unset) and
    ``SPACE_APP_DATA_DIR`` (where installations are stored; default ``examples/space_app/.data``).
    """

    frontdesk_url: str
    client_id: str
    client_secret: str
    app_url: str
    secret: str
    data_dir: Path = DEFAULT_DATA_DIR

    @property
    def redirect_uri(self) -> str:
        """One redirect URI for every flow: only the host of /oauth/authorize differs."""
        return f"{self.app_url}/auth/callback"

    @property
    def embed_url(self) -> str:
        """The page Frontdesk shows in the space's iframe (the navigation link's iframe_url)."""
        return f"{self.app_url}/embed"

    @property
    def https(self) -> bool:
        return self.app_url.startswith("https://")

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        client_id = env.get("SPACE_APP_CLIENT_ID", "")
        client_secret = env.get("SPACE_APP_CLIENT_SECRET", "")
        if not client_id or not client_secret:
            raise ConfigError(
                "SPACE_APP_CLIENT_ID and SPACE_APP_CLIENT_SECRET are not set. Register the app first:\n"
                '  eval "$(sh examples/space_app/register.sh)"'
            )
        secret = env.get("SPACE_APP_SECRET", "")
        if not secret:
            print("SPACE_APP_SECRET is not set: sessions end when the app stops.", file=sys.stderr)
            secret = secrets.token_urlsafe(32)
        try:
            frontdesk_url = normalize_issuer(env.get("FRONTDESK_URL", "http://localhost:8000"))
            app_url = normalize_issuer(env.get("SPACE_APP_URL", "http://localhost:9000"))
        except ValueError as exc:
            raise ConfigError(f"FRONTDESK_URL and SPACE_APP_URL are origins: {exc}") from exc
        data_dir = Path(env.get("SPACE_APP_DATA_DIR") or DEFAULT_DATA_DIR)
        return cls(frontdesk_url, client_id, client_secret, app_url, secret, data_dir)
