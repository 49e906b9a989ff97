"""Client authentication at the token endpoint (RFC 6749 §2.3).

Methods: ``client_secret_basic`` (Basic header, both halves form-urldecoded, §2.3.1 and
Appendix B), ``client_secret_post`` (body; the query too unless strict, decision 2), and
``none`` for public clients. A request may use only one method (§2.3). An unknown client and
a wrong secret give the same answer.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from urllib.parse import unquote_plus

from frontdesk.oauth.errors import InvalidClient, InvalidRequest
from frontdesk.oauth.models import Client
from frontdesk.oauth.request import OAuthRequest, Params
from frontdesk.oauth.storage import ClientStore

FAILED = "client authentication failed"


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str | None
    method: str  # client_secret_basic | client_secret_post | none


def parse_basic(header: str) -> tuple[str, str]:
    """Decode ``Basic base64(urlencode(id):urlencode(secret))`` (RFC 6749 §2.3.1)."""
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        raise InvalidClient(FAILED)
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError) as exc:  # ValueError: non-ASCII text (UnicodeDecodeError too)
        raise InvalidClient("malformed Basic credentials", used_basic=True) from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise InvalidClient("malformed Basic credentials", used_basic=True)
    return unquote_plus(client_id), unquote_plus(secret)


def extract(request: OAuthRequest, params: Params) -> Credentials:
    header = request.header("authorization")
    body_id = params.get("client_id")
    body_secret = params.get("client_secret")
    if header and header.strip().lower().startswith("basic"):
        if body_secret is not None:
            raise InvalidRequest("use one client authentication method, not Basic and client_secret together")
        client_id, secret = parse_basic(header)
        if body_id is not None and body_id != client_id:
            raise InvalidRequest("client_id differs from the Basic credentials")
        return Credentials(client_id, secret, "client_secret_basic")
    if body_id is None:
        raise InvalidClient("client authentication required: send client_id and client_secret")
    if body_secret is None:
        return Credentials(body_id, None, "none")
    return Credentials(body_id, body_secret, "client_secret_post")


async def authenticate(
    store: ClientStore, request: OAuthRequest, params: Params
) -> tuple[Client, Credentials]:
    creds = extract(request, params)
    return await verify(store, creds), creds


async def verify(store: ClientStore, creds: Credentials) -> Client:
    """The client the extracted credentials prove, or ``invalid_client``."""
    basic = creds.method == "client_secret_basic"
    client = await store.get_client(creds.client_id)
    if client is None:
        raise InvalidClient(FAILED, used_basic=basic)
    if client.public:
        # A public client has no secret to check; sending one is a mistake we refuse.
        if creds.client_secret:
            raise InvalidClient(FAILED, used_basic=basic)
        return client
    if creds.client_secret is None or not await store.check_client_secret(client, creds.client_secret):
        raise InvalidClient(FAILED, used_basic=basic)
    return client
