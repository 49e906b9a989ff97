"""Pure JWT checks (no IO): signature against a JWKS with joserfc, then the claims.

RS256 only — what Frontdesk signs with and what its metadata advertises; ``alg: none`` and
HMAC algorithms are never accepted, whatever the token's header says.

Frontdesk signs two kinds of JWT with the same keys, for the same ``iss`` and ``aud``: ID
tokens (``typ: JWT``) and iframe contexts (``typ: frontdesk-context+jwt``). Each verifier takes
its own kind only (RFC 8725 §3.11, explicit typing), so one is never accepted as the other.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Collection, Mapping
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from frontdesk.client.errors import TokenValidationError

ALGORITHMS = ("RS256",)

# RFC 8725 §3.11: the ``typ`` of each kind, compared as RFC 7515 §4.1.9 says: case-insensitive,
# ``application/`` may be left out. An ID token may also come without ``typ``.
ID_TOKEN_TYPES = ("jwt",)
CONTEXT_TYPE = "frontdesk-context+jwt"
# Claims only an iframe context carries: an ID token with them is a context, even one signed
# by a server that did not type its contexts yet (services/iframe_context.py).
CONTEXT_ONLY_CLAIMS = ("role", "navigation_link")


def media_type(header: Mapping[str, Any]) -> str | None:
    """The header's ``typ`` in one spelling (lower case, without ``application/``)."""
    typ = header.get("typ")
    if typ is None:
        return None
    if not isinstance(typ, str):
        return ""
    typ = typ.strip().lower()
    return typ.removeprefix("application/")


def check_id_token_type(header: Mapping[str, Any], error: type[TokenValidationError]) -> None:
    typ = media_type(header)
    if typ is not None and typ not in ID_TOKEN_TYPES:
        raise error(f"not an ID token: its typ is {header.get('typ')!r}, an ID token's is 'JWT'")


def check_id_token_kind(claims: Mapping[str, Any], error: type[TokenValidationError]) -> None:
    found = [name for name in CONTEXT_ONLY_CLAIMS if name in claims]
    if found:
        raise error(f"not an ID token: it has the iframe context's claims {', '.join(found)}")


def check_context_type(header: Mapping[str, Any], error: type[TokenValidationError]) -> None:
    if media_type(header) != CONTEXT_TYPE:
        raise error(
            f"not an iframe context: its typ is {header.get('typ')!r}, a context's is {CONTEXT_TYPE!r}"
        )


def _b64json(segment: str) -> Any:
    padded = segment + "=" * (-len(segment) % 4)
    return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))


def unverified_parts(token: str, error: type[TokenValidationError]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims *without* checking anything: only to pick the issuer and key."""
    pieces = token.split(".") if isinstance(token, str) else []
    if len(pieces) != 3:
        raise error("not a signed JWT (compact serialization has three parts)")
    try:
        header, claims = _b64json(pieces[0]), _b64json(pieces[1])
    except (ValueError, UnicodeError) as exc:
        raise error("the JWT is malformed") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise error("the JWT is malformed")
    if header.get("alg") not in ALGORITHMS:
        raise error(f"unexpected JWT algorithm {header.get('alg')!r}; expected RS256")
    return header, claims


def import_keys(jwks: Any) -> dict[str | None, RSAKey]:
    """The RSA signing keys of a JWKS document, by ``kid``."""
    if not isinstance(jwks, Mapping) or not isinstance(jwks.get("keys"), list):
        raise TokenValidationError("the JWKS is not a key set")
    keys: dict[str | None, RSAKey] = {}
    for entry in jwks["keys"]:
        if not isinstance(entry, Mapping) or entry.get("kty") != "RSA":
            continue
        if entry.get("use") not in (None, "sig") or entry.get("alg") not in (None, *ALGORITHMS):
            continue
        try:
            key = RSAKey.import_key(dict(entry))
        except (JoseError, ValueError, TypeError):
            continue
        keys[entry.get("kid") if isinstance(entry.get("kid"), str) else None] = key
    return keys


def pick_key(keys: Mapping[str | None, RSAKey], kid: Any) -> RSAKey | None:
    if isinstance(kid, str):
        return keys.get(kid)
    if len(keys) == 1:  # a token without kid and a set with a single key
        return next(iter(keys.values()))
    return None


def verify_signature(token: str, key: RSAKey, error: type[TokenValidationError]) -> dict[str, Any]:
    try:
        decoded = jwt.decode(token, key, algorithms=list(ALGORITHMS))
    except (JoseError, ValueError) as exc:
        raise error(f"the JWT signature is not valid: {exc}") from exc
    return dict(decoded.claims)


def _number(claims: Mapping[str, Any], name: str, error: type[TokenValidationError]) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise error(f"the JWT has no numeric {name!r}")
    return float(value)


def check_common(
    claims: Mapping[str, Any],
    *,
    issuers: Collection[str],
    audience: str,
    now: float,
    leeway: float,
    error: type[TokenValidationError],
) -> None:
    """``iss`` (exact), ``aud`` (with ``azp`` when several), ``exp``, ``iat``, ``nbf``."""
    iss = claims.get("iss")
    if not isinstance(iss, str) or iss not in issuers:
        raise error(f"the JWT was issued by {iss!r}, not by {' or '.join(sorted(issuers))}")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if audience not in audiences:
        raise error("the JWT is not meant for this app (aud)")
    if len(audiences) > 1 and claims.get("azp") != audience:
        raise error("the JWT has several audiences and azp is not this app")
    if "azp" in claims and claims.get("azp") != audience:
        raise error("the JWT was obtained by another app (azp)")
    exp = _number(claims, "exp", error)
    if exp <= now - leeway:
        raise error("the JWT expired")
    iat = _number(claims, "iat", error)
    if iat > now + leeway:
        raise error("the JWT was issued in the future (iat)")
    if "nbf" in claims and _number(claims, "nbf", error) > now + leeway:
        raise error("the JWT is not valid yet (nbf)")


def at_hash(access_token: str) -> str:
    """OIDC Core §3.1.3.6 for RS256: base64url of the left half of SHA-256."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


def check_id_token(
    claims: Mapping[str, Any],
    *,
    nonce: str | None,
    access_token: str | None,
    error: type[TokenValidationError],
) -> None:
    """The ID-token-specific claims (OIDC Core §3.1.3.7): ``sub``, ``nonce``, ``at_hash``."""
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise error("the ID token has no 'sub'")
    if nonce is not None:
        got = claims.get("nonce")
        if not isinstance(got, str) or not hmac.compare_digest(got.encode(), nonce.encode()):
            raise error("the ID token's nonce is missing or not the one this flow sent")
    if (
        access_token is not None
        and "at_hash" in claims
        and not hmac.compare_digest(str(claims["at_hash"]), at_hash(access_token))
    ):
        raise error("the ID token's at_hash does not match the access token")
