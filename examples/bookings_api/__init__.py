"""Bookings API: a platform's own API that trusts Frontdesk's access tokens (see README.md)."""

from examples.bookings_api.app import Settings, create_app

__all__ = ["Settings", "create_app"]
