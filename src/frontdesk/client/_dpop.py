"""DPoP proofs at a resource server (RFC 9449 §4.3, §7.1), for
:mod:`frontdesk.client.resource_server`: pure checks with joserfc, no IO.

A token bound to a key (``cnf.jkt`` in a JWT access token or in introspection, §6) is good only
with ``Authorization: DPoP <token>`` and a proof in the ``DPoP`` header: ``typ: dpop+jwt``, an
asymmetric ``alg``, the public ``jwk`` that verifies it and whose thumbprint is the token's
``jkt``, ``htm``/``htu`` of this request (``htu`` without query and fragment), ``iat`` within
``max_age`` seconds, ``ath`` the hash of the token, and a ``jti`` not seen before. Seen ``jti``
values are kept in memory by :class:`SeenProofs` (one process; pass your own shared
``first_use`` to share them between processes). Server nonces (§9) are not asked for here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import string
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, JWKRegistry, OKPKey, RSAKey

SCHEME = "DPoP"
PROOF_TYP = "dpop+jwt"
# The algorithms Frontdesk advertises (dpop_signing_alg_values_supported).
SIGNING_ALGS = (
    "ES256",
    "ES384",
    "ES512",
    "PS256",
    "PS384",
    "PS512",
    "RS256",
    "RS384",
    "RS512",
    "EdDSA",
    "Ed25519",
)
MAX_PROOF_LENGTH = 8192
_REGISTRY = jws.JWSRegistry(algorithms=list(SIGNING_ALGS))
_REGISTRY.max_header_length = MAX_PROOF_LENGTH
_REGISTRY.max_payload_length = MAX_PROOF_LENGTH
_PRIVATE = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_PORTS = {"http": 80, "https": 443}


class ProofError(Exception):
    """The proof fails a check of §4.3 (answered ``invalid_dpop_proof``)."""


def access_token_hash(token: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()


def normalize_url(url: str) -> str | None:
    """Without query and fragment; scheme and host lower case, default port dropped,
    percent-encodings normalised (RFC 3986 §6.2.2, §6.2.3)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None or port == _PORTS[scheme] else f"{host}:{port}"

    def one(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else match.group(0).upper()

    return urlunsplit((scheme, netloc, _PERCENT.sub(one, parts.path or "/"), "", ""))


class SeenProofs:
    """``jti`` values seen within their lifetime, in this process (thread-safe)."""

    def __init__(self, clock: Callable[[], float] = time.time, limit: int = 100_000) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()
        self.clock = clock
        self.limit = limit

    def first_use(self, value: str, seconds: float) -> bool:
        now = self.clock()
        with self._lock:
            if len(self._seen) >= self.limit:
                self._seen = {k: until for k, until in self._seen.items() if until > now}
            until = self._seen.get(value)
            if until is not None and until > now:
                return False
            self._seen[value] = now + seconds
            return True


def check_proof(
    proof: str | None,
    *,
    method: str,
    url: str,
    token: str,
    jkt: str,
    max_age: float,
    now: float,
    first_use: Callable[[str, float], bool],
) -> None:
    """Raises :class:`ProofError` unless ``proof`` is a valid proof of the key ``jkt`` for this
    request (``method``, ``url``) and ``token``."""
    if not proof or "," in proof or len(proof) > MAX_PROOF_LENGTH or proof.strip().count(".") != 2:
        raise ProofError("send one DPoP proof in the DPoP header")
    proof = proof.strip()
    try:
        compact = jws.extract_compact(proof.encode("ascii"), registry=_REGISTRY)
        header = compact.protected
        claims = json.loads(compact.payload)
    except (JoseError, ValueError, UnicodeError) as exc:
        raise ProofError("the DPoP proof is not a well-formed JWT") from exc
    if not isinstance(claims, dict):
        raise ProofError("the DPoP proof's payload is not a JSON object")
    if header.get("typ") != PROOF_TYP:
        raise ProofError("the DPoP proof's typ must be dpop+jwt")
    alg, jwk = header.get("alg"), header.get("jwk")
    if not isinstance(alg, str) or alg not in SIGNING_ALGS:
        raise ProofError("the DPoP proof's alg is not accepted")
    if not isinstance(jwk, dict) or _PRIVATE & set(jwk):
        raise ProofError("the DPoP proof needs a public jwk")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            key = JWKRegistry.import_key(jwk)
            if not isinstance(key, ECKey | RSAKey | OKPKey):
                raise ProofError("the DPoP proof's jwk must be an asymmetric key")
            if isinstance(key, RSAKey) and key.raw_value.key_size < 2048:
                raise ProofError("the DPoP proof's RSA key is too small")
            jws.deserialize_compact(proof, key, algorithms=[alg], registry=_REGISTRY)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise ProofError("the DPoP proof's signature does not verify with its jwk") from exc
    if not hmac.compare_digest(key.thumbprint(), jkt):
        raise ProofError("the access token is bound to another key")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 256:
        raise ProofError("the DPoP proof needs a jti")
    if claims.get("htm") != method:
        raise ProofError("the DPoP proof's htm is not this request's method")
    htu = claims.get("htu")
    if not isinstance(htu, str) or normalize_url(htu) is None or normalize_url(htu) != normalize_url(url):
        raise ProofError("the DPoP proof's htu is not this request's URL")
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, int | float) or not math.isfinite(iat):
        raise ProofError("the DPoP proof needs a numeric iat")
    if abs(iat - now) > max_age:
        raise ProofError("the DPoP proof's iat is too far from now")
    ath = claims.get("ath")
    if not isinstance(ath, str) or not hmac.compare_digest(ath, access_token_hash(token)):
        raise ProofError("the DPoP proof's ath is not the hash of this access token")
    if not first_use(hashlib.sha256(f"{jkt} {jti}".encode()).hexdigest(), 2 * max_age + 1):
        raise ProofError("this DPoP proof was used before")


def bound_key(claims: Any) -> str | None:
    """The ``cnf.jkt`` of a JWT's claims or an introspection answer (§6), or None."""
    cnf = claims.get("cnf") if isinstance(claims, dict) else None
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    return jkt if isinstance(jkt, str) and jkt else None


__all__ = [
    "SCHEME",
    "SIGNING_ALGS",
    "ProofError",
    "SeenProofs",
    "access_token_hash",
    "bound_key",
    "check_proof",
]
