"""Proof Key for Code Exchange (RFC 7636), S256 only (RFC 9700 §2.1.1)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from frontdesk.oauth.errors import InvalidGrant, InvalidRequest

# RFC 7636 §4.1: 43..128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"
_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
# §4.2: BASE64URL(SHA256(verifier)) is always 43 characters, no padding.
_CHALLENGE = re.compile(r"^[A-Za-z0-9\-_]{43}$")
SUPPORTED_METHODS = ("S256",)


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def check_challenge(
    challenge: str | None, method: str | None, *, required: bool
) -> tuple[str | None, str | None]:
    """Validate the authorization request's PKCE parameters (RFC 7636 §4.3, §4.4.1)."""
    if challenge is None:
        if method is not None:
            raise InvalidRequest("code_challenge_method without code_challenge")
        if required:
            raise InvalidRequest(
                "this app must use PKCE: send code_challenge with code_challenge_method=S256"
            )
        return None, None
    method = method or "plain"  # RFC 7636 §4.3 default, which we refuse
    if method not in SUPPORTED_METHODS:
        raise InvalidRequest("code_challenge_method must be S256")
    if not _CHALLENGE.match(challenge):
        raise InvalidRequest("code_challenge must be the base64url SHA-256 of the verifier (43 characters)")
    return challenge, method


def verify(code_challenge: str | None, verifier: str | None) -> None:
    """Token endpoint check (RFC 7636 §4.6) with the downgrade defence (RFC 9700 §4.8.2)."""
    if code_challenge is None:
        if verifier is not None:
            raise InvalidGrant("code_verifier sent for a code issued without code_challenge")
        return
    if verifier is None:
        raise InvalidGrant("code_verifier required")
    if not _VERIFIER.match(verifier):
        raise InvalidGrant("malformed code_verifier")
    if not hmac.compare_digest(s256(verifier), code_challenge):
        raise InvalidGrant("code_verifier does not match code_challenge")
