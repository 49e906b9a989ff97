"""Delegation (RFC 8693 §1.1, §4.1): the ``act`` claim of a token issued for a subject to an
actor.

A token exchanged with an ``actor_token`` (oauth/grants/token_exchange.py) records who acts:
``{"sub": …, "client_id": …}`` of the actor token, ``sub`` being its person, or its client
for a token that acts for no person (as introspection and RFC 9068 §2.2 name such tokens).
When the subject token was itself delegated, its ``act`` is nested inside the new one: the
outermost ``act`` is the current actor, the nested ones are the prior actors (§4.1). A token
exchanged without an actor keeps its subject's ``act`` unchanged.

The claim is stored with the token as JSON text (``access_tokens.act``) and reported by
introspection (oauth/introspection.py) and in JWT access tokens (oauth/tokens.py).
"""

from __future__ import annotations

import json
from typing import Any

from frontdesk.oauth.errors import InvalidRequest
from frontdesk.oauth.models import TokenInfo

# How many actors a chain may name (the current one and the prior ones): a bound on the size of
# what every exchange copies forward.
MAX_ACTORS = 5


def actor_of(token: TokenInfo) -> dict[str, Any]:
    """The claims that identify the party holding ``token`` (§4.1: identity claims only, no
    ``exp``, ``aud`` or the like)."""
    return {"sub": token.user_id or token.client_id, "client_id": token.client_id}


def depth(act: dict[str, Any] | None) -> int:
    """How many actors a chain names."""
    count = 0
    while isinstance(act, dict):
        count += 1
        act = act.get("act")
    return count


def delegated(actor: TokenInfo, prior: str | None) -> str:
    """The ``act`` claim (JSON text) of a token issued to ``actor`` for a subject whose own
    ``act`` is ``prior``. Raises :class:`InvalidRequest` for a chain longer than
    :data:`MAX_ACTORS` (§2.2.2: the request is unacceptable by policy)."""
    claim = actor_of(actor)
    before = act_claim(prior)
    if before is not None:
        if depth(before) >= MAX_ACTORS:
            raise InvalidRequest(f"a delegation chain names at most {MAX_ACTORS} actors")
        claim["act"] = before
    return json.dumps(claim, separators=(",", ":"))


def act_claim(value: str | None) -> dict[str, Any] | None:
    """The ``act`` claim stored as ``value`` (None: the token acts for its subject alone)."""
    if not value:
        return None
    claim = json.loads(value)
    return claim if isinstance(claim, dict) else None
