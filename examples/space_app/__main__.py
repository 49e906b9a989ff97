"""``python -m examples.space_app``: serve Space App on 127.0.0.1 (port from SPACE_APP_URL)."""

from __future__ import annotations

import sys
from urllib.parse import urlsplit

import uvicorn

from .app import create_app
from .config import ConfigError, Settings


def main() -> int:
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    port = urlsplit(settings.app_url).port or 9000
    print(f"Space App on {settings.app_url} for Frontdesk at {settings.frontdesk_url}", file=sys.stderr)
    uvicorn.run(create_app(settings), host="127.0.0.1", port=port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
