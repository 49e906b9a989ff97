"""The client credentials grant (RFC 6749 §4.4): an app obtains a token for itself.

* Only confidential apps (§4.4: "MUST only be used by confidential clients") whose operator
  switched the grant on (``client_credentials``, docs/integrating.md) may use it; others get
  ``unauthorized_client`` (§5.2).
* The token acts for no person: no user, no refresh token (§4.4.3: "A refresh token SHOULD
  NOT be included"), no ID token (OpenID Connect needs an end-user). Scopes that only make
  sense with a person (``openid``, ``email``, ``profile``) are ``invalid_scope``.
* Scope (§3.3): the requested scopes, each one either among the app's own (non-administrative)
  scopes or among its ``admin_scopes``; nothing requested gives the app's own scopes. An
  administrative scope (``admin:<resource>:read|write``, ``scim``) is granted only here, and
  only to an app that lists it; other grants refuse them (oauth/scopes.grant_scopes).
* Resource (RFC 8707 §2): ``resource=`` narrows the token's audience to that resource, as
  at the other grants (oauth/resource.py); an unknown one is ``invalid_target``.
"""

from __future__ import annotations

from frontdesk.oauth.errors import InvalidScope, UnauthorizedClient
from frontdesk.oauth.grants import Grant
from frontdesk.oauth.resource import requested_resource
from frontdesk.oauth.scopes import check_known, is_admin_scope, parse_scope, token_scopes
from frontdesk.oauth.tokens import IssueRequest, TokenResponse

GRANT_TYPE = "client_credentials"
# OpenID Connect scopes describe an end-user; a client_credentials token has none.
PERSON_SCOPES = frozenset({"openid", "email", "profile"})


def client_credentials_scopes(
    requested: tuple[str, ...], own: tuple[str, ...], admin: tuple[str, ...]
) -> tuple[str, ...]:
    """What a client_credentials token gets (RFC 6749 §3.3, §4.4.2)."""
    check_known(requested)
    own_set = {s for s in own if s not in PERSON_SCOPES and not is_admin_scope(s)}
    if not requested:
        granted = tuple(s for s in own if s in own_set)
        if not granted:
            raise InvalidScope("no scope requested and the app has no default scopes for this grant")
        return granted
    for name in requested:
        if name in PERSON_SCOPES:
            raise InvalidScope(f"scope {name!r} needs a person; the client_credentials grant has none")
        if is_admin_scope(name):
            if name not in admin:
                raise InvalidScope(f"scope {name!r} is not among this app's administrative scopes")
        elif name not in own_set:
            raise InvalidScope(f"scope {name!r} is not allowed for this app")
    return requested


class ClientCredentialsGrant(Grant):
    grant_type = GRANT_TYPE

    scopes: tuple[str, ...]
    audience: str | None = None

    async def validate_token_request(self) -> None:
        client = self.client
        if client.public or not client.client_credentials:
            raise UnauthorizedClient("this app may not use the client_credentials grant")
        self.audience = await requested_resource(self.ctx.request, self.ctx.params.values("resource"))
        # Umbrella scopes are expanded once, now (oauth/scopes.token_scopes).
        self.scopes = token_scopes(
            client_credentials_scopes(
                parse_scope(self.ctx.params.get("scope")), client.scopes, client.admin_scopes
            )
        )

    async def create_token_response(self) -> TokenResponse:
        ctx = self.ctx
        # No extras: no refresh token, no ID token (§4.4.3).
        issued = await ctx.issuer.without_extras().issue(
            ctx.storage,
            IssueRequest(
                client=self.client,
                user_id=None,
                scopes=self.scopes,
                grant_type=self.grant_type,
                issuer=ctx.request.issuer,
                ip=ctx.request.client_ip,
                audience=self.audience,
            ),
        )
        return issued.response
