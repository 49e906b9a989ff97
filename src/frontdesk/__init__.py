"""Frontdesk: an OAuth 2 / OpenID Connect provider for platforms whose customers live in spaces."""

__version__ = "0.1.0"
