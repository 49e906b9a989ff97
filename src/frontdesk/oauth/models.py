"""Plain data the protocol core works with (storage maps its rows onto these)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# JWT access tokens always expire (RFC 9068 §2.2); an app without its own lifetime gets an hour.
JWT_ACCESS_TOKEN_TTL = 3600
# The FAPI 2.0 Security Profile, as Client.profile names it.
FAPI2 = "fapi2"
# The profile every app of this process runs under besides its own (FRONTDESK_FAPI2; one per
# process, set by composition.OAuthServer.build like the scope catalogue).
_PROFILE_FOR_ALL: str | None = None


def use_profile_for_all(profile: str | None) -> None:
    """Make every app of this process run under ``profile`` (None: each app's own)."""
    global _PROFILE_FOR_ALL
    _PROFILE_FOR_ALL = profile


# FAPI 2.0 Security Profile §5.3.2.1: authorization codes live at most 60 seconds.
FAPI2_CODE_TTL_SECONDS = 60


@dataclass(frozen=True)
class Client:
    """A registered app (RFC 6749 §2)."""

    client_id: str
    name: str
    redirect_uris: tuple[str, ...]
    scopes: tuple[str, ...]
    owner_id: str = ""
    owner_name: str = ""
    name_in_space: str | None = None
    main_url: str = ""
    password_grant: bool = True
    public: bool = False
    allow_redirect_query: bool = False
    trusted: bool = False
    require_pkce: bool = False
    # None: tokens never expire (the default, docs/decisions.md §5).
    access_token_ttl: int | None = None
    # A resource server allowed to introspect any token (RFC 7662 §2.1).
    can_introspect: bool = False
    # RFC 9068 JWT access tokens (they always expire) instead of opaque ones.
    jwt_access_tokens: bool = False
    # May use the client_credentials grant (RFC 6749 §4.4), and the administrative scopes
    # (admin:<resource>:read|write, scim) it may hold that way (docs/integrating.md).
    client_credentials: bool = False
    admin_scopes: tuple[str, ...] = ()
    # OpenID Connect RP-Initiated Logout 1.0 §3.1 (exact match) and Back-Channel Logout 1.0 §2.2.
    post_logout_redirect_uris: tuple[str, ...] = ()
    backchannel_logout_uri: str | None = None
    # Issue 14. Sender-constrained tokens (RFC 9449 §5.2 ``dpop_bound_access_tokens``): the
    # token endpoint refuses requests without a DPoP proof.
    dpop_required: bool = False
    # RFC 9126 §6 ``require_pushed_authorization_requests`` for this app.
    par_required: bool = False
    # RFC 7591 §2 ``token_endpoint_auth_method``: None for a client secret (Basic or post; none
    # for a public client), or "private_key_jwt" (RFC 7523 §2.2, OIDC Core §9), whose keys
    # are ``jwks`` (a JWK Set as JSON text) or published at ``jwks_uri``.
    token_endpoint_auth_method: str | None = None
    jwks: str | None = None
    jwks_uri: str | None = None
    # A security profile the app runs under: None, or "fapi2" (the FAPI 2.0 Security Profile).
    profile: str | None = None
    # Bookkeeping for people and operators (the protocol never reads it): where the app was
    # registered (web, cli, seed, dynamic) and when.
    registered_via: str = "web"
    created_at: datetime | None = None

    @property
    def token_lifetime(self) -> int | None:
        """Seconds an access token of this app lives: its own lifetime, else one hour for JWT
        access tokens (they always expire, RFC 9068 §2.2), else None (never expires)."""
        if self.access_token_ttl:
            return self.access_token_ttl
        return JWT_ACCESS_TOKEN_TTL if self.jwt_access_tokens else None

    @property
    def pkce_required(self) -> bool:
        """Public clients always need PKCE (RFC 9700 §2.1.1); others when they opt in (and
        under the FAPI 2.0 profile)."""
        return self.public or self.require_pkce or self.fapi

    @property
    def fapi(self) -> bool:
        """The app runs under the FAPI 2.0 Security Profile (docs/flows.md)."""
        return self.profile == FAPI2 or _PROFILE_FOR_ALL == FAPI2

    @property
    def needs_par(self) -> bool:
        """Authorization requests only through PAR (RFC 9126 §6): its own setting or FAPI."""
        return self.par_required or self.fapi

    @property
    def needs_dpop(self) -> bool:
        """Tokens only with a DPoP proof (RFC 9449 §5.2): its own setting or FAPI."""
        return self.dpop_required or self.fapi


@dataclass(frozen=True, slots=True)
class Person:
    """A user account as every layer above the store sees it (the row is
    :class:`frontdesk.store.models.User`): who logs in, approves apps and holds tokens."""

    id: str
    email: str
    name: str
    # True once the person opened the verification link sent to ``email`` (OIDC Core §5.1).
    email_verified: bool = False
    created_at: datetime | None = None
    # A picture the platform set (admin API); None: the generated avatar stands in for it.
    picture_url: str | None = None
    # The account's language (a BCP 47 tag such as "de"): the one it signed up in or last
    # chose in a page's footer; its emails are in it. None: not known.
    locale: str | None = None
    # The account has a second factor. Read only where a login is checked
    # (services/accounts.check_credentials); False elsewhere.
    second_factor: bool = False


@dataclass(frozen=True, slots=True)
class SpaceRole:
    """A person's place in one space: the claims OpenID Connect reports on a space's host."""

    id: str
    subdomain: str
    # "admin", "member", or None when the person belongs to the space in no role.
    role: str | None


@dataclass(frozen=True)
class NewCode:
    client_id: str
    user_id: str
    space_id: str | None
    issuer: str
    redirect_uri: str
    redirect_uri_sent: bool
    scopes: tuple[str, ...]
    code_challenge: str | None
    code_challenge_method: str | None
    nonce: str | None
    auth_time: datetime
    expires_at: datetime
    # RFC 8707 §2: the resource the authorization request named (None: none was named).
    resource: str | None = None
    # The public id of the browser session it was issued in: the ID token's ``sid``
    # (OpenID Connect Back-Channel Logout 1.0 §2.4); None outside a browser session.
    sid: str | None = None
    # How the person logged in (RFC 8176 values, oauth/amr.py): the ID token's amr and acr.
    amr: tuple[str, ...] = ()
    # RFC 9449 §10: the ``dpop_jkt`` of the authorization request; the token request's DPoP
    # proof must be made with that key.
    dpop_jkt: str | None = None


@dataclass(frozen=True)
class CodeRecord(NewCode):
    id: str = ""


@dataclass(frozen=True)
class ConsumedCode:
    """The outcome of trying to use a code once: the code, or why not."""

    code: CodeRecord | None
    # Set when the code exists but was already used: the id of that code, so whatever it
    # issued can be revoked (RFC 6749 §4.1.2, §10.5).
    replayed_code_id: str | None = None


@dataclass(frozen=True)
class NewToken:
    client_id: str
    # None: a client_credentials token, acting for no person (RFC 6749 §4.4).
    user_id: str | None
    scopes: tuple[str, ...]
    grant_type: str
    space_id: str | None = None
    code_id: str | None = None
    parent_id: str | None = None
    family_id: str | None = None
    issuer: str | None = None
    expires_at: datetime | None = None
    keep_sealed: bool = False
    # RFC 8707: the resource the token is good at (None: every host of this deployment).
    audience: str | None = None
    # RFC 9449 §6: the JWK SHA-256 thumbprint (RFC 7638) of the key the token is bound to.
    dpop_jkt: str | None = None
    # RFC 8693 §4.1: the ``act`` claim of a delegated token (JSON text; oauth/delegation.py).
    act: str | None = None


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What validating a bearer token yields (RFC 6750)."""

    id: str
    client_id: str
    # None: a client_credentials token (RFC 6749 §4.4) acts for no person; endpoints that
    # need one answer 403 (oauth/bearer.py).
    user_id: str | None
    space_id: str | None
    scopes: tuple[str, ...]
    grant_type: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked: bool = False
    issuer: str | None = None
    family_id: str | None = None
    last_used_at: datetime | None = None
    # RFC 8707: the resource the token is good at (None: every host of this deployment).
    audience: str | None = None
    # RFC 9449 §6: the JWK SHA-256 thumbprint of the key the token is bound to (None: Bearer).
    dpop_jkt: str | None = None
    # RFC 8693 §4.1: who acts for the subject (JSON text of the ``act`` claim; None: nobody).
    act: str | None = None

    @property
    def is_space_token(self) -> bool:
        return self.space_id is not None
