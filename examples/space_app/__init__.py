"""Space App: an example app for Frontdesk spaces (see README.md in this directory).

Run it from the repository root with ``.venv/bin/python -m examples.space_app``.
"""

from .app import SpaceApp, create_app
from .config import Settings

__all__ = ["Settings", "SpaceApp", "create_app"]
