"""OpenID Connect RP-Initiated Logout 1.0: what a logout request asks for (§2).

:func:`read_request` checks the parameters and decides nothing about the browser session:
the web layer (web/routes/oauth/logout.py) compares the hint with the session and renders.

* ``id_token_hint`` (§2): an ID token this host issued, verified with the published keys;
  an expired one is accepted (§4: "the OP SHOULD accept ID Tokens ... when the RP session
  at the OP has expired"). Its ``iss`` must be this host's issuer; its ``typ`` an ID token's.
* ``client_id`` (§2): when given with a hint, it must be one of the hint's audiences.
* ``post_logout_redirect_uri`` (§3): only with a known app (the hint's audience or
  ``client_id``), and only one of the URIs the app registered, compared exactly (§3.1).
* ``state`` (§2): echoed to that URI.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from frontdesk.oauth.models import Client
from frontdesk.oauth.oidc import ID_TOKEN_TYP
from frontdesk.oauth.storage import ClientStore

PARAMS = ("id_token_hint", "client_id", "post_logout_redirect_uri", "state", "logout_hint", "ui_locales")


class LogoutRequestError(Exception):
    """The request cannot be honoured as sent: shown on an error page, never redirected."""


@dataclass(frozen=True, slots=True)
class LogoutRequest:
    client: Client | None
    # From a valid id_token_hint: whose session the app means, and which one.
    hint_sub: str | None
    hint_sid: str | None
    # Where to send the browser afterwards (``state`` added), or None: Frontdesk's own page.
    destination: str | None
    # The parameters as received (for the confirmation form).
    params: tuple[tuple[str, str], ...]

    def ties_to(self, user_id: str, public_id: str) -> bool:
        """The hint names this person (and, when it has ``sid``, this session)."""
        if self.hint_sub is None or self.hint_sub != user_id:
            return False
        return self.hint_sid is None or self.hint_sid == public_id


def _hint_claims(hint: str, jwks: Sequence[Mapping[str, Any]], issuer: str) -> dict[str, Any]:
    try:
        keys = KeySet.import_key_set({"keys": [dict(k) for k in jwks]})
        token = jwt.decode(hint, keys, algorithms=["RS256"])
    except (JoseError, ValueError, TypeError) as exc:
        raise LogoutRequestError("The id_token_hint is not an ID token of this site.") from exc
    if token.header.get("typ", ID_TOKEN_TYP) != ID_TOKEN_TYP:
        raise LogoutRequestError("The id_token_hint is not an ID token.")
    claims = dict(token.claims)
    if claims.get("iss") != issuer:
        raise LogoutRequestError("The id_token_hint was issued by another site.")
    if not isinstance(claims.get("sub"), str):
        raise LogoutRequestError("The id_token_hint names no one.")
    return claims


def with_state(uri: str, state: str | None) -> str:
    if not state:
        return uri
    parts = urlsplit(uri)
    query = f"{parts.query}&{urlencode({'state': state})}" if parts.query else urlencode({"state": state})
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


async def read_request(
    params: Mapping[str, str], *, issuer: str, jwks: Sequence[Mapping[str, Any]], clients: ClientStore
) -> LogoutRequest:
    hint = params.get("id_token_hint") or ""
    client_id = params.get("client_id") or ""
    uri = params.get("post_logout_redirect_uri") or ""
    state = params.get("state") or None
    sub = sid = None
    audiences: list[str] = []
    if hint:
        claims = _hint_claims(hint, jwks, issuer)
        sub = claims["sub"]
        sid = claims.get("sid") if isinstance(claims.get("sid"), str) else None
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else [a for a in aud or () if isinstance(a, str)]
        if client_id and client_id not in audiences:
            raise LogoutRequestError("The client_id is not the audience of the id_token_hint.")
    wanted = client_id or (audiences[0] if len(audiences) == 1 else "")
    client = await clients.get_client(wanted) if wanted else None
    if wanted and client is None:
        raise LogoutRequestError("The app that sent you here is not registered.")
    destination = None
    if uri:
        if client is None:
            raise LogoutRequestError(
                "A post_logout_redirect_uri needs the app: send id_token_hint or client_id."
            )
        if uri not in client.post_logout_redirect_uris:  # §3.1: exact match
            raise LogoutRequestError("The post_logout_redirect_uri is not registered for this app.")
        destination = with_state(uri, state)
    kept = tuple((k, params[k]) for k in PARAMS if params.get(k))
    return LogoutRequest(client, sub, sid, destination, kept)
