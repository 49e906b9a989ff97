"""Request and response bodies of the admin API (documented in OpenAPI)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Body(BaseModel):
    """A request body: unknown fields are refused (a typo must not be ignored silently)."""

    model_config = ConfigDict(extra="forbid")


# ---- users ---------------------------------------------------------------------------------


class AdminUserIn(Body):
    email: str = Field(description="The account's email address (its login).")
    name: str | None = Field(None, description="Display name; default: the part of the email before @.")
    password: str | None = Field(None, description="A password (checked for strength, hashed with Argon2id).")
    password_hash: str | None = Field(
        None,
        description="A hash another system wrote (bcrypt, Django PBKDF2-SHA256, Argon2 PHC), "
        "re-hashed at the next login. With neither password nor hash the account has no password.",
    )
    email_verified: bool = Field(
        False,
        description="true: the platform vouches for the address (ID tokens and userinfo say "
        "email_verified: true at once); false: unverified until the person opens a verification link.",
    )


class AdminUserPatch(Body):
    name: str | None = None
    email: str | None = None
    password: str | None = Field(None, description="A new password.")
    disabled: bool | None = Field(
        None, description="true: no login, sessions end, everything the account gave apps is revoked."
    )


class AdminUserOut(BaseModel):
    id: str
    email: str
    name: str
    created_at: datetime | None
    disabled: bool
    email_verified: bool


class AdminUserList(BaseModel):
    users: list[AdminUserOut]
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null on the last one.")


# ---- spaces --------------------------------------------------------------------------------


class AdminSpaceIn(Body):
    subdomain: str
    name: str
    owner_id: str = Field(description="The id of the account that owns (and administers) the space.")
    custom_domain: str | None = Field(
        None, description="Served once its DNS TXT record proves ownership (see domain in the answer)."
    )


class AdminSpacePatch(Body):
    name: str | None = None
    custom_domain: str | None = Field(None, description='A new custom domain; "" removes it.')


class DomainOut(BaseModel):
    verified: str | None = Field(description="The custom domain served now.")
    pending: str | None = Field(description="A domain waiting for its DNS TXT record.")
    record_name: str | None
    record_value: str | None


class AdminSpaceOut(BaseModel):
    id: str
    subdomain: str
    name: str
    owner_id: str
    url: str
    custom_domain: str | None
    domain: DomainOut


class AdminDomainCheckIn(Body):
    domain: str | None = Field(
        None,
        description="The domain whose TXT record you published; when given it must be the pending "
        "one (409 otherwise), so a check never verifies a domain that was changed meanwhile.",
    )


class AdminDomainCheckOut(BaseModel):
    verified: bool = Field(description="true: the pending domain's TXT record was found; it is served now.")
    message: str = Field(description="What the check found, in words (as the space's settings page shows).")
    space: AdminSpaceOut


class AdminSpaceList(BaseModel):
    spaces: list[AdminSpaceOut]
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null on the last one.")


# ---- memberships ---------------------------------------------------------------------------


class AdminMembershipIn(Body):
    user_id: str
    role: str = Field("member", description="member or admin")
    admin_name: str | None = Field(None, description="How an admin is named in the space.")
    confirmed: bool = Field(True, description="false: waits for a confirm call (Cobot's confirmed_at).")


class AdminMembershipPatch(Body):
    role: str = Field(description="member or admin")


class AdminConfirmIn(Body):
    confirmed_at: datetime | None = Field(
        None, description="When it took effect (with a UTC offset); default now."
    )


class AdminCancelIn(Body):
    canceled_to: date | None = Field(description="The membership's last day; null withdraws a cancellation.")


class AdminMembershipOut(BaseModel):
    id: str
    space_id: str
    user_id: str
    email: str
    name: str
    role: str
    admin_name: str | None
    created_at: datetime | None
    confirmed_at: datetime | None
    canceled_to: date | None


class AdminMembershipList(BaseModel):
    memberships: list[AdminMembershipOut]


class AdminInvitationIn(Body):
    email: str
    role: str = Field("member", description="member or admin")


class AdminInvitationOut(BaseModel):
    id: str
    space_id: str
    email: str
    role: str
    invited_by: str | None = Field(description="The inviting admin's name; null when the platform invited.")
    created_at: datetime
    expires_at: datetime


class AdminInvitationList(BaseModel):
    invitations: list[AdminInvitationOut] = Field(description="Pending invitations, newest first.")


# ---- apps ----------------------------------------------------------------------------------


class AdminAppIn(Body):
    owner_id: str = Field(description="The developer account that owns the app.")
    name: str
    redirect_uris: list[str] = Field(
        default_factory=list, description="At least one, unless the app has administrative scopes only."
    )
    scopes: str = Field(
        "",
        description="Space-separated scopes the app may hold; may be empty for an app with "
        "administrative scopes only (it uses the client_credentials grant alone).",
    )
    name_in_space: str | None = None
    main_url: str = ""
    public: bool = False
    password_grant: bool | None = None
    allow_redirect_query: bool = False
    trusted: bool = False
    require_pkce: bool = False
    access_token_ttl: int | None = None
    can_introspect: bool = False
    client_credentials: bool | None = Field(
        None, description="May use the client_credentials grant (default: off; on with admin_scopes)."
    )
    admin_scopes: str = Field("", description="Administrative scopes (admin:<resource>:read|write, scim).")
    dpop_required: bool = Field(
        False, description="Token requests need a DPoP proof (RFC 9449 §5.2 dpop_bound_access_tokens)."
    )
    par_required: bool = Field(
        False,
        description="Authorization requests only through /oauth/par (RFC 9126 §6 "
        "require_pushed_authorization_requests).",
    )
    post_logout_redirect_uris: list[str] = Field(
        default_factory=list,
        description="Where the app may send people after logging them out (OpenID Connect "
        "RP-Initiated Logout; exact match).",
    )
    backchannel_logout_uri: str | None = Field(
        None, description="Where the app receives logout tokens (OpenID Connect Back-Channel Logout)."
    )
    token_endpoint_auth_method: str | None = Field(
        None,
        description="null (a client secret; none for public apps) or private_key_jwt (RFC 7523: "
        "signed assertions, no secret is issued). client_secret_jwt is not offered.",
    )
    jwks: dict[str, Any] | None = Field(
        None, description="The app's public keys as a JWK Set (RFC 7517): RSA ≥2048, EC P-256/P-384, Ed25519."
    )
    jwks_uri: str | None = Field(None, description="Where the app publishes its JWK Set (instead of jwks).")
    fapi2: bool = Field(
        False,
        description="The FAPI 2.0 Security Profile: PAR, PKCE S256, DPoP and private_key_jwt required, "
        "no password grant, 60-second codes. Needs token_endpoint_auth_method private_key_jwt.",
    )


class AdminAppPatch(Body):
    name: str | None = None
    name_in_space: str | None = None
    main_url: str | None = None
    redirect_uris: list[str] | None = None
    scopes: str | None = None
    password_grant: bool | None = None
    allow_redirect_query: bool | None = None
    trusted: bool | None = None
    require_pkce: bool | None = None
    access_token_ttl: int | None = Field(None, description="0: tokens never expire.")
    can_introspect: bool | None = None
    client_credentials: bool | None = None
    admin_scopes: str | None = None
    dpop_required: bool | None = None
    par_required: bool | None = None
    post_logout_redirect_uris: list[str] | None = Field(None, description="Replaces the list ([]: none).")
    backchannel_logout_uri: str | None = Field(None, description="null: no back-channel logout.")
    token_endpoint_auth_method: str | None = Field(
        None, description="private_key_jwt, or client_secret_basic to go back to a secret (rotate one)."
    )
    jwks: dict[str, Any] | None = Field(None, description="Replaces the JWK Set (null: none).")
    jwks_uri: str | None = Field(None, description="null: none.")
    fapi2: bool | None = None


class AdminAppOut(BaseModel):
    client_id: str
    name: str
    owner_id: str
    name_in_space: str | None
    main_url: str
    redirect_uris: list[str]
    scopes: list[str]
    public: bool
    password_grant: bool
    allow_redirect_query: bool
    trusted: bool
    require_pkce: bool
    access_token_ttl: int | None
    can_introspect: bool
    client_credentials: bool
    admin_scopes: list[str]
    # RFC 9449 §5.2: its own setting (the FAPI 2.0 profile requires DPoP as well).
    dpop_required: bool
    # RFC 9126 §6: its own setting (the FAPI 2.0 profile requires PAR as well).
    par_required: bool
    post_logout_redirect_uris: list[str]
    backchannel_logout_uri: str | None
    # RFC 7591 §2: client_secret_basic (also post), none (public) or private_key_jwt.
    token_endpoint_auth_method: str
    jwks: dict[str, Any] | None
    jwks_uri: str | None
    # The FAPI 2.0 Security Profile (its own setting, or FRONTDESK_FAPI2 for every app).
    fapi2: bool
    registered_via: str
    created_at: datetime | None


class AdminAppCreated(AdminAppOut):
    client_secret: str | None = Field(description="Shown here once (null for public apps).")


class AdminAppList(BaseModel):
    apps: list[AdminAppOut]


class RotateSecretIn(Body):
    overlap_seconds: int = Field(
        0, description="How long the previous secret keeps working (0 to 604800); 0: it stops now."
    )


class RotatedSecretOut(BaseModel):
    client_secret: str
    previous_secret_expires_at: datetime | None


# ---- tokens --------------------------------------------------------------------------------


class AdminTokenOut(BaseModel):
    id: str
    client_id: str
    user_id: str | None = Field(description="null for client_credentials tokens.")
    space_id: str | None
    scopes: list[str]
    grant_type: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


class AdminTokenList(BaseModel):
    tokens: list[AdminTokenOut]
    next_cursor: str | None


class RevokeIn(Body):
    token_id: str | None = Field(None, description="One access token (and its refresh family).")
    user_id: str | None = Field(
        None, description="Everything the user gave apps (to one app with client_id)."
    )
    client_id: str | None = Field(None, description="Everything the app holds (in one space with space_id).")
    space_id: str | None = Field(
        None, description="Every space token of the space (of one app with client_id)."
    )


class RevokedOut(BaseModel):
    access_tokens: int
    refresh_tokens: int
    codes: int
    consents: int


# ---- audit ---------------------------------------------------------------------------------


class AuditEventOut(BaseModel):
    id: str
    created_at: datetime
    event: str
    description: str
    user_id: str | None
    app_id: str | None
    space_id: str | None
    ip: str
    detail: dict[str, object]


class AuditPage(BaseModel):
    events: list[AuditEventOut]
    next_cursor: str | None
