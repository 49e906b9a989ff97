"""The public keys of ``private_key_jwt`` clients (RFC 7523 §2.2, OpenID Connect Core §9): what
a registered JWK Set may hold, and finding the key that signed an assertion or request object.

A JWK Set an app registers (inline as ``jwks`` or published at ``jwks_uri``, RFC 7591 §2) holds
public asymmetric signing keys only: RSA of at least 2048 bits, EC on P-256 or P-384, OKP
Ed25519. Private key material and symmetric (``oct``) keys are refused: a server that stores a
client's private key could sign as the client (RFC 7517 §4, RFC 7591 §2 "MUST NOT" for
private keys). Key ids are unique within a set, so an assertion's ``kid`` names one key.
"""

from __future__ import annotations

import json
from typing import Any, Final

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey, RSAKey

# Signature algorithms a client assertion may use (RFC 7518 §3; EdDSA RFC 8037 §3.1; Ed25519
# RFC 9864). No ``none`` and no HMAC: ``client_secret_jwt`` (RFC 7523 with a shared secret) is
# not offered (docs/integrating.md). The FAPI 2.0 Security Profile asks for PS256, ES256 or
# EdDSA; RS256 stays for the many libraries that default to it (Authlib).
SIGNING_ALGORITHMS: Final = ("PS256", "ES256", "ES384", "RS256", "EdDSA", "Ed25519")
# Which key type each algorithm needs, and for EC the curve.
_ALG_KEY: Final = {
    "PS256": ("RSA", None),
    "RS256": ("RSA", None),
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "EdDSA": ("OKP", "Ed25519"),
    # The fully specified name of EdDSA with Ed25519 (RFC 9864 §2.2).
    "Ed25519": ("OKP", "Ed25519"),
}
MIN_RSA_BITS: Final = 2048
MAX_KEYS: Final = 20
# The private members of RSA, EC and OKP keys (RFC 7518 §6.2.2, §6.3.2; RFC 8037 §2).
_PRIVATE_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_CURVES: Final = {"EC": ("P-256", "P-384"), "OKP": ("Ed25519",)}

PublicKey = RSAKey | ECKey | OKPKey


class KeySetError(ValueError):
    """A JWK Set that cannot be registered (the message says why, in English)."""


def _key_errors(index: int, raw: Any, seen: set[str]) -> PublicKey:
    where = f"key {index + 1}"
    if not isinstance(raw, dict):
        raise KeySetError(f"{where} is not a JSON object")
    kty = raw.get("kty")
    if kty not in ("RSA", "EC", "OKP"):
        raise KeySetError(f"{where}: key type {kty!r} is not accepted (RSA, EC or OKP)")
    if _PRIVATE_MEMBERS & set(raw):
        raise KeySetError(f"{where} holds private key material: register only the public key")
    if kty in _CURVES and raw.get("crv") not in _CURVES[kty]:
        raise KeySetError(f"{where}: curve {raw.get('crv')!r} is not accepted ({', '.join(_CURVES[kty])})")
    if raw.get("use") not in (None, "sig"):
        raise KeySetError(f'{where} is not a signing key ("use" must be "sig")')
    alg = raw.get("alg")
    if alg is not None and alg not in SIGNING_ALGORITHMS:
        raise KeySetError(f"{where}: algorithm {alg!r} is not accepted ({', '.join(SIGNING_ALGORITHMS)})")
    if alg is not None and _ALG_KEY[alg][0] != kty:
        raise KeySetError(f"{where}: algorithm {alg} does not fit a {kty} key")
    kid = raw.get("kid")
    if kid is not None:
        if not isinstance(kid, str) or not kid or len(kid) > 200:
            raise KeySetError(f'{where}: "kid" must be a short string')
        if kid in seen:
            raise KeySetError(f"key id {kid!r} is used twice: key ids must be unique")
        seen.add(kid)
    try:
        key: PublicKey
        if kty == "RSA":
            key = RSAKey.import_key(raw)
        elif kty == "EC":
            key = ECKey.import_key(raw)
        else:
            key = OKPKey.import_key(raw)
    except (JoseError, ValueError, TypeError) as exc:
        raise KeySetError(f"{where} is not a valid {kty} key") from exc
    if key.is_private:
        raise KeySetError(f"{where} holds private key material: register only the public key")
    if isinstance(key, RSAKey) and key.raw_value.key_size < MIN_RSA_BITS:
        raise KeySetError(f"{where}: RSA keys need at least {MIN_RSA_BITS} bits")
    return key


def parse_key_set(value: str | dict[str, Any]) -> list[dict[str, Any]]:
    """The keys of a JWK Set (JSON text or its object), each checked as the module says, or
    :class:`KeySetError`."""
    data: Any = value
    if isinstance(value, str):
        try:
            data = json.loads(value)
        except ValueError as exc:
            raise KeySetError("the JWK Set is not valid JSON") from exc
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise KeySetError('a JWK Set is a JSON object with a "keys" array (RFC 7517 §5)')
    keys: list[Any] = data["keys"]
    if not keys:
        raise KeySetError("the JWK Set has no keys")
    if len(keys) > MAX_KEYS:
        raise KeySetError(f"a JWK Set may hold at most {MAX_KEYS} keys")
    seen: set[str] = set()
    for index, raw in enumerate(keys):
        _key_errors(index, raw, seen)
    return [dict(raw) for raw in keys]


def clean_key_set(value: str | dict[str, Any]) -> str:
    """A registrable JWK Set as compact JSON text (what ``Client.jwks`` holds)."""
    return json.dumps({"keys": parse_key_set(value)}, separators=(",", ":"), sort_keys=True)


def candidate_keys(key_set: str, alg: str, kid: str | None) -> list[PublicKey] | None:
    """The keys of ``key_set`` that may have signed with ``alg``: the one named by ``kid``
    (None when no key has that id: the caller may fetch the set again), else every key that
    fits the algorithm (RFC 7515 §4.1.4: without a ``kid`` the verifier picks). Keys that do
    not fit the algorithm (type, curve, their own ``alg``) are never candidates."""
    try:
        raws = parse_key_set(key_set)
    except KeySetError:
        return []
    kty, crv = _ALG_KEY[alg]
    if kid is not None:
        raws = [raw for raw in raws if raw.get("kid") == kid]
        if not raws:
            return None
    found: list[PublicKey] = []
    for raw in raws:
        if raw.get("kty") != kty or (crv is not None and raw.get("crv") != crv):
            continue
        if raw.get("alg") not in (None, alg):
            continue
        found.append(_key_errors(0, raw, set()))
    return found
