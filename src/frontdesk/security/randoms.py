"""Random identifiers and secrets.

Secrets carry a short fixed prefix so leaked values can be found by secret scanners, and
256 bits of randomness (RFC 6749 §10.10, RFC 6819 §5.1.4.2.2). The base64url alphabet
never needs escaping in HTTP Basic credentials (no ``%`` or ``+``).
"""

from __future__ import annotations

import secrets

ACCESS_TOKEN_PREFIX = "fdat_"
REFRESH_TOKEN_PREFIX = "fdrt_"
CODE_PREFIX = "fdac_"
CLIENT_SECRET_PREFIX = "fdcs_"
SESSION_PREFIX = "fdss_"
# The token of a link sent by email (verification, password reset; store/models.EmailLink).
EMAIL_LINK_PREFIX = "fdel_"
# A device code of the device authorization grant (RFC 8628 §3.2, oauth/device.py).
DEVICE_CODE_PREFIX = "fddc_"


def new_id() -> str:
    """An opaque 32-hex-digit identifier (the shape Cobot uses for ids)."""
    return secrets.token_hex(16)


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)
