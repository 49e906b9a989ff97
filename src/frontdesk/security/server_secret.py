"""Purpose-bound keys derived from the server secret (HKDF-SHA-256, RFC 5869).

One secret configures the server; each use gets its own key so that a MAC made for one
purpose can never be replayed as another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def _derive(secret: bytes, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(secret)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class ServerSecret:
    """All keys the server needs, derived once at start-up from the server secret."""

    __slots__ = ("_aead", "_csrf", "_digest")

    def __init__(self, secret: bytes) -> None:
        self._digest = _derive(secret, "frontdesk digest v1")
        self._csrf = _derive(secret, "frontdesk csrf v1")
        self._aead = AESGCM(_derive(secret, "frontdesk aead v1"))

    def __repr__(self) -> str:
        return "ServerSecret(<secret>)"

    def digest(self, value: str) -> str:
        """HMAC-SHA-256 of a high-entropy secret (token, code, client secret, session id):
        what the database stores and indexes instead of the secret itself."""
        return _b64(hmac.new(self._digest, value.encode(), hashlib.sha256).digest())

    def mac(self, message: str) -> str:
        """A MAC for anti-forgery tokens and other short-lived signed values."""
        return _b64(hmac.new(self._csrf, message.encode(), hashlib.sha256).digest())

    def encrypt(self, plaintext: str, context: str) -> str:
        """AES-256-GCM; ``context`` is bound as associated data (e.g. a row id)."""
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), context.encode())
        return base64.urlsafe_b64encode(nonce + sealed).decode()

    def decrypt(self, sealed: str, context: str) -> str:
        raw = base64.urlsafe_b64decode(sealed.encode())
        return self._aead.decrypt(raw[:12], raw[12:], context.encode()).decode()
