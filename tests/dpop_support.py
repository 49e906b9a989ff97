"""DPoP proofs for tests (RFC 9449 §4.2), made with joserfc as a client would make them."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
import warnings
from dataclasses import dataclass, field
from typing import Any

from joserfc import jws
from joserfc.jwk import ECKey, OKPKey, RSAKey

PUBLIC_URL = "http://localhost:8000"
TOKEN_HTU = PUBLIC_URL + "/oauth/access_token"
USER_HTU = PUBLIC_URL + "/api/user"


def ath(token: str) -> str:
    """RFC 9449 §4.2: base64url SHA-256 of the access token."""
    return base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class DpopKey:
    """A client's DPoP key pair and the proofs it signs."""

    key: ECKey | RSAKey | OKPKey = field(default_factory=lambda: ECKey.generate_key("P-256"))
    alg: str = "ES256"

    @classmethod
    def rsa(cls, alg: str = "PS256", bits: int = 2048) -> DpopKey:
        return cls(RSAKey.generate_key(bits), alg)

    @classmethod
    def ed25519(cls, alg: str = "EdDSA") -> DpopKey:
        return cls(OKPKey.generate_key("Ed25519"), alg)

    @property
    def public_jwk(self) -> dict[str, Any]:
        return dict(self.key.as_dict(private=False))

    @property
    def jkt(self) -> str:
        return self.key.thumbprint()

    def proof(
        self,
        htm: str = "POST",
        htu: str = TOKEN_HTU,
        *,
        token: str | None = None,
        nonce: str | None = None,
        iat: float | None = None,
        jti: str | None = None,
        header: dict[str, Any] | None = None,
        claims: dict[str, Any] | None = None,
        drop: tuple[str, ...] = (),
    ) -> str:
        """A proof for ``htm`` ``htu`` (with ``ath`` of ``token``); ``header`` and ``claims``
        override members, ``drop`` removes them (from either)."""
        protected: dict[str, Any] = {"typ": "dpop+jwt", "alg": self.alg, "jwk": self.public_jwk}
        payload: dict[str, Any] = {
            "jti": jti or str(uuid.uuid4()),
            "htm": htm,
            "htu": htu,
            "iat": int(time.time()) if iat is None else iat,
        }
        if token is not None:
            payload["ath"] = ath(token)
        if nonce is not None:
            payload["nonce"] = nonce
        protected.update(header or {})
        payload.update(claims or {})
        for name in drop:
            protected.pop(name, None)
            payload.pop(name, None)
        return self.sign(protected, payload)

    def sign(self, protected: dict[str, Any], payload: dict[str, Any]) -> str:
        # Signed by hand (joserfc's algorithm, no header checks): tests send malformed headers.
        signing_input = b64(json.dumps(protected).encode()) + "." + b64(json.dumps(payload).encode())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            algorithm = jws.JWSRegistry.algorithms[str(protected.get("alg", self.alg))]
            signature = algorithm.sign(signing_input.encode(), self.key)
        return signing_input + "." + b64(signature)


def dpop_headers(token: str, proof: str) -> dict[str, str]:
    return {"authorization": f"DPoP {token}", "dpop": proof}
