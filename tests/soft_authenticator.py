"""A WebAuthn authenticator in software for the server-side passkey tests: an ES256 key made
here, "none" attestation (WebAuthn Level 2 §8.7), assertions signed over authenticator data
and the client data's hash (§6.3.3). What a browser would post, as the JSON
``/static/passkeys.js`` builds."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

USER_PRESENT = 0x01
USER_VERIFIED = 0x04
ATTESTED_DATA = 0x40


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SoftAuthenticator:
    origin: str
    rp_id: str = "localhost"
    user_verifying: bool = True
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    credential_id: bytes = field(default_factory=lambda: os.urandom(32))
    sign_count: int = 0
    user_handle: bytes | None = None

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin or self.origin, "crossOrigin": False}
        ).encode()

    def _flags(self, extra: int = 0) -> bytes:
        return bytes([USER_PRESENT | (USER_VERIFIED if self.user_verifying else 0) | extra])

    def create(self, options: dict[str, Any], *, origin: str | None = None) -> str:
        """The answer to ``navigator.credentials.create`` with these options."""
        assert options["rp"]["id"] == self.rp_id
        self.user_handle = unb64(options["user"]["id"])
        numbers = self.key.public_key().public_numbers()
        cose = {1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}
        attested = (
            bytes(16) + len(self.credential_id).to_bytes(2, "big") + self.credential_id + cbor2.dumps(cose)
        )
        auth_data = (
            hashlib.sha256(self.rp_id.encode()).digest()
            + self._flags(ATTESTED_DATA)
            + self.sign_count.to_bytes(4, "big")
            + attested
        )
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return json.dumps(
            {
                "id": b64(self.credential_id),
                "rawId": b64(self.credential_id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": b64(client_data),
                    "attestationObject": b64(attestation),
                    "transports": ["internal"],
                },
                "clientExtensionResults": {},
            }
        )

    def get(self, options: dict[str, Any], *, origin: str | None = None, count: int | None = None) -> str:
        """The answer to ``navigator.credentials.get``; ``count``: the signature counter to
        report (else one more than last time)."""
        self.sign_count = self.sign_count + 1 if count is None else count
        auth_data = (
            hashlib.sha256(self.rp_id.encode()).digest() + self._flags() + self.sign_count.to_bytes(4, "big")
        )
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return json.dumps(
            {
                "id": b64(self.credential_id),
                "rawId": b64(self.credential_id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": b64(client_data),
                    "authenticatorData": b64(auth_data),
                    "signature": b64(signature),
                    "userHandle": b64(self.user_handle) if self.user_handle is not None else None,
                },
                "clientExtensionResults": {},
            }
        )
