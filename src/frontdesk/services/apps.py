"""Registered apps (OAuth clients): registration, settings, secrets and the owner's test token.

Callers see :class:`frontdesk.oauth.models.Client` values (the row is
:class:`frontdesk.store.models.App`); nothing here commits.

Secrets are never stored in plaintext (docs/decisions.md §1): the client secret is kept as a
digest (to check it) and sealed with AEAD (so its owner can see it again); the owner's test
access token is an ordinary token whose row also keeps a sealed copy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk import events
from frontdesk.errors import FieldError, NotFound
from frontdesk.i18n import N_
from frontdesk.inputs import BadInput, ascii_int
from frontdesk.oauth.client_assertion import PRIVATE_KEY_JWT
from frontdesk.oauth.client_keys import KeySetError, clean_key_set
from frontdesk.oauth.models import FAPI2, Client, NewToken, Person
from frontdesk.oauth.redirect_uris import RedirectUriError, validate_for_registration
from frontdesk.oauth.scopes import MAX_SCOPE_STRING, catalogue, format_scope, is_admin_scope, parse_scope
from frontdesk.oauth.storage import AppGrants, TokenGrant
from frontdesk.oauth.web_urls import WebUrlError, normalize_web_url
from frontdesk.security.randoms import ACCESS_TOKEN_PREFIX, CLIENT_SECRET_PREFIX, new_id, new_secret
from frontdesk.security.server_secret import ServerSecret
from frontdesk.services import accounts, grants
from frontdesk.store import revocation
from frontdesk.store.audit_storage import record_event
from frontdesk.store.inserts import insert_unless_taken
from frontdesk.store.models import AccessToken, App, Consent, User
from frontdesk.store.sql_storage import SqlStorage, client_from_row
from frontdesk.store.types import utcnow

TEST_GRANT = "test"
CLIENT_CREDENTIALS = "client_credentials"
# A rotated secret's overlap window: at most a week (services/apps.rotate_secret).
MAX_SECRET_OVERLAP = 7 * 24 * 3600
MAX_REDIRECT_URIS = 50
# The column holds 32 characters (the shape of generated ids); seeded ids may be shorter.
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,32}$")
# RFC 3986 unreserved characters: never escaped in HTTP Basic credentials (RFC 6749 §2.3.1).
_CLIENT_SECRET = re.compile(r"^[A-Za-z0-9._~-]{32,200}$")
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")
EDITABLE = frozenset(
    {
        "name",
        "name_in_space",
        "main_url",
        "redirect_uris",
        "scopes",
        "password_grant",
        "public",
        "allow_redirect_query",
        "trusted",
        "require_pkce",
        "access_token_ttl",
        "can_introspect",
        "client_credentials",
        "admin_scopes",
        "jwt_access_tokens",
        "par_required",
        "dpop_required",
        "post_logout_redirect_uris",
        "backchannel_logout_uri",
        "token_endpoint_auth_method",
        "jwks",
        "jwks_uri",
        "fapi2",
    }
)
# Opt-in expiring access tokens (docs/decisions.md §5): from 5 minutes to a year.
MIN_ACCESS_TOKEN_TTL = 300
MAX_ACCESS_TOKEN_TTL = 31_536_000


@dataclass(frozen=True)
class CreatedApp:
    app: Client
    client_secret: str | None  # None for public apps
    test_access_token: str | None  # None for an app without ordinary scopes (admin API only)


@dataclass(frozen=True)
class Revealed:
    client_secret: str | None
    test_access_token: str | None


# ---- validation -----------------------------------------------------------------------------


def clean_app_name(raw: str | None, *, field: str = "name", required: bool = True) -> str | None:
    return accounts.clean_name(raw, field=field, required=required, max_length=100) or None


def validate_redirect_uris(uris: Iterable[str], *, required: bool = True) -> list[str]:
    result: list[str] = []
    for uri in uris:
        try:
            validate_for_registration(uri)
        except RedirectUriError as exc:
            raise FieldError("redirect_uris", N_("{uri}: {problem}"), uri=uri, problem=str(exc)) from exc
        if uri in result:
            raise FieldError("redirect_uris", N_("{uri}: listed twice."), uri=uri)
        result.append(uri)
    if not result and required:
        raise FieldError("redirect_uris", N_("Enter at least one redirect URI."))
    if len(result) > MAX_REDIRECT_URIS:
        raise FieldError("redirect_uris", N_("Register at most {n} redirect URIs."), n=MAX_REDIRECT_URIS)
    return result


def validate_post_logout_redirect_uris(uris: Iterable[str]) -> list[str]:
    """Where the app may send people after logging them out (OpenID Connect RP-Initiated
    Logout 1.0 §3.1): the rules of redirect URIs, matched by exact comparison too."""
    result: list[str] = []
    for uri in (u.strip() for u in uris):
        if not uri:
            continue
        try:
            validate_for_registration(uri)
        except RedirectUriError as exc:
            raise FieldError(
                "post_logout_redirect_uris", N_("{uri}: {problem}"), uri=uri, problem=str(exc)
            ) from exc
        if uri not in result:
            result.append(uri)
    if len(result) > MAX_REDIRECT_URIS:
        raise FieldError(
            "post_logout_redirect_uris",
            N_("Register at most {n} post-logout redirect URIs."),
            n=MAX_REDIRECT_URIS,
        )
    return result


def validate_backchannel_logout_uri(raw: str | None) -> str | None:
    """Where the app receives logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.2): an
    absolute http(s) URL without a fragment; None for none. Private destinations are refused
    when sending (services/backchannel.py), like webhooks."""
    url = (raw or "").strip()
    if not url:
        return None
    if "#" in url:
        raise FieldError("backchannel_logout_uri", N_("The back-channel logout URI must have no fragment."))
    try:
        return normalize_web_url(url, allow_http=True)
    except WebUrlError as exc:
        raise FieldError("backchannel_logout_uri", str(exc)) from exc


# RFC 7591 §2 token_endpoint_auth_method values an app may register: a client secret (Basic
# or in the body; "none" for a public app), or keys (RFC 7523 §2.2). client_secret_jwt (an
# HMAC with the secret) is not offered (docs/integrating.md, "Key-based client authentication").
SECRET_METHODS = ("client_secret_basic", "client_secret_post", "none")
KEY_METHODS = (PRIVATE_KEY_JWT,)


def clean_auth_method(raw: str | None) -> str | None:
    """The app's ``token_endpoint_auth_method`` as ``Client`` holds it: None for a secret (or
    none for a public app), ``private_key_jwt`` for keys."""
    method = (raw or "").strip()
    if not method or method in SECRET_METHODS or method == "client_secret":
        return None
    if method in KEY_METHODS:
        return method
    raise FieldError(
        "token_endpoint_auth_method",
        N_("Choose a client secret or private_key_jwt; {method} is not offered."),
        method=method[:40],
    )


def auth_method_of(app: Client) -> str:
    """The app's RFC 7591 ``token_endpoint_auth_method`` as shown to people and APIs."""
    if app.token_endpoint_auth_method:
        return app.token_endpoint_auth_method
    return "none" if app.public else "client_secret_basic"


def validate_jwks(raw: str | dict[str, Any] | None) -> str | None:
    """A JWK Set of public signing keys (oauth/client_keys.py), as compact JSON; None for none."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        return clean_key_set(raw)
    except KeySetError as exc:
        raise FieldError("jwks", N_("The key set cannot be used: {reason}."), reason=str(exc)) from exc


def validate_jwks_uri(raw: str | None) -> str | None:
    """Where the app publishes its JWK Set: an absolute http(s) URL without a fragment; fetched
    over https only outside development and with the address checks of webhooks
    (services/client_keys.py)."""
    url = (raw or "").strip()
    if not url:
        return None
    if "#" in url:
        raise FieldError("jwks_uri", N_("The JWKS URI must have no fragment."))
    try:
        return normalize_web_url(url, allow_http=True)
    except WebUrlError as exc:
        raise FieldError("jwks_uri", str(exc)) from exc


def _client_keys(
    public: bool, method: str | None, jwks: str | None, jwks_uri: str | None
) -> dict[str, str | None]:
    """The key settings of an app, checked together: private_key_jwt needs keys, by value or
    by reference but not both (RFC 7591 §2), and a confidential app."""
    if jwks and jwks_uri:
        raise FieldError("jwks", N_("Register the keys either as a JWK Set or by a JWKS URI, not both."))
    if method == PRIVATE_KEY_JWT:
        if public:
            raise FieldError(
                "token_endpoint_auth_method",
                N_("A public app has no credentials: it cannot use private_key_jwt."),
            )
        if not jwks and not jwks_uri:
            raise FieldError(
                "jwks", N_("private_key_jwt needs the app's public keys: a JWK Set or a JWKS URI.")
            )
    return {"token_endpoint_auth_method": method, "jwks": jwks, "jwks_uri": jwks_uri}


def _profile(fapi2: bool, method: str | None) -> str | None:
    """The app's security profile: FAPI 2.0 needs key-based client authentication (FAPI 2.0
    Security Profile §5.3.3.4), so an app gets it only with its keys registered."""
    if not fapi2:
        return None
    if method != PRIVATE_KEY_JWT:
        raise FieldError(
            "fapi2",
            N_("The FAPI 2.0 profile needs private_key_jwt: register the app's public keys first."),
        )
    return FAPI2


NEEDS_A_SCOPE = N_(
    "Choose at least one scope. (An app of the admin API may have administrative scopes alone.)"
)


def validate_scopes(raw: str | Iterable[str], *, trusted: bool, required: bool = True) -> tuple[str, ...]:
    """Known scopes from the catalogue, restricted ones only for trusted apps, at least one
    unless not ``required`` (an app with administrative scopes alone)."""
    text = raw if isinstance(raw, str) else " ".join(raw)
    scopes = parse_scope(text)
    cat = catalogue()
    for name in scopes:
        if not _SCOPE_TOKEN.match(name) or name not in cat:
            raise FieldError("scopes", N_("Unknown scope “{scope}”."), scope=name)
        if is_admin_scope(name):
            raise FieldError(
                "scopes", N_("“{scope}” is an administrative scope: set it in the admin scopes."), scope=name
            )
        if cat.scopes[name].restricted and not trusted:
            raise FieldError("scopes", N_("The scope “{scope}” is for trusted apps only."), scope=name)
    if not scopes and required:
        raise FieldError("scopes", N_("Choose at least one scope."))
    if len(format_scope(cat.expand_ordered(scopes))) > MAX_SCOPE_STRING:
        # What its tokens would hold (umbrellas expanded) must fit where tokens are stored.
        raise FieldError("scopes", N_("Too many scopes for one app: choose fewer."))
    return scopes


def validate_admin_scopes(raw: str | Iterable[str] | None) -> tuple[str, ...]:
    """Administrative scopes (admin:<resource>:read|write, scim) an app may hold through the
    client_credentials grant (docs/integrating.md, "Admin API"); may be empty."""
    text = raw if isinstance(raw, str) or raw is None else " ".join(raw)
    scopes = parse_scope(text)
    cat = catalogue()
    for name in scopes:
        if not is_admin_scope(name) or name not in cat:
            raise FieldError(
                "admin_scopes",
                N_("“{scope}” is not an administrative scope (admin:<resource>:read|write or scim)."),
                scope=name,
            )
    return scopes


def _client_credentials_flags(
    public: bool, client_credentials: bool | None, admin_scopes: tuple[str, ...]
) -> bool:
    """The client_credentials switch: administrative scopes imply it; public apps (no secret)
    cannot have it (RFC 6749 §4.4)."""
    wanted = bool(client_credentials) or (client_credentials is None and bool(admin_scopes))
    if admin_scopes and client_credentials is False:
        raise FieldError("client_credentials", N_("Administrative scopes need the client_credentials grant."))
    if public and wanted:
        raise FieldError("client_credentials", N_("Public apps cannot use the client_credentials grant."))
    return wanted


def validate_main_url(raw: str | None) -> str:
    """The app's home page (also a registered client's ``client_uri``): an absolute http(s)
    URL, stored with its host in IDNA form (oauth/web_urls.py); empty for none."""
    url = (raw or "").strip()
    if not url:
        return ""
    try:
        return normalize_web_url(url, allow_http=True)
    except WebUrlError as exc:
        raise FieldError("main_url", str(exc)) from exc


def clean_access_token_ttl(raw: int | str | None) -> int | None:
    """Seconds an access token lives (the app then gets refresh tokens too); ``None`` or an
    empty value: tokens never expire."""
    if raw is None or isinstance(raw, bool):
        return None
    text = str(raw).strip()
    if not text:
        return None
    try:
        ttl = ascii_int(text)
    except BadInput as exc:
        raise FieldError(
            "access_token_ttl", N_("Enter a whole number of seconds, or leave it empty.")
        ) from exc
    if not MIN_ACCESS_TOKEN_TTL <= ttl <= MAX_ACCESS_TOKEN_TTL:
        raise FieldError(
            "access_token_ttl",
            N_("Use {low} to {high} seconds (5 minutes to a year), or leave it empty."),
            low=MIN_ACCESS_TOKEN_TTL,
            high=MAX_ACCESS_TOKEN_TTL,
        )
    return ttl


def _grant_flags(public: bool, password_grant: bool | None) -> bool:
    """The password grant setting: on by default, off for public apps (which have no secret
    to authenticate it); asking for both explicitly is an error."""
    if password_grant is None:
        return not public
    if public and password_grant:
        raise FieldError("password_grant", N_("Public apps cannot use the password grant."))
    return password_grant


def _validate_client_id(client_id: str) -> str:
    if not _CLIENT_ID.match(client_id):
        raise FieldError("client_id", N_("Use 8 to 32 letters, digits, hyphens or underscores."))
    return client_id


def _validate_client_secret(secret: str) -> str:
    if not _CLIENT_SECRET.match(secret):
        raise FieldError(
            "client_secret",
            N_("Use 32 to 200 URL-safe characters (letters, digits, - . _ ~)."),
        )
    return secret


# ---- lookups --------------------------------------------------------------------------------


async def _row(db: AsyncSession, client_id: str) -> App | None:
    if not client_id or len(client_id) > 64:
        return None
    return await db.get(App, client_id)


async def _existing(db: AsyncSession, client_id: str) -> App:
    app = await _row(db, client_id)
    if app is None:
        raise NotFound(f"no app with client id {client_id}")
    return app


async def get_app(db: AsyncSession, client_id: str) -> Client | None:
    app = await _row(db, client_id)
    return client_from_row(app) if app is not None else None


async def owned_app(db: AsyncSession, owner_id: str, client_id: str) -> Client | None:
    """The app if ``owner_id`` owns it; None otherwise (whether or not it exists)."""
    app = await get_app(db, client_id)
    return app if app is not None and app.owner_id == owner_id else None


async def apps_of(db: AsyncSession, owner_id: str) -> list[Client]:
    stmt = select(App).where(App.owner_id == owner_id).order_by(func.lower(App.name), App.created_at)
    return [client_from_row(app) for app in (await db.execute(stmt)).scalars()]


async def all_apps(db: AsyncSession) -> list[tuple[Client, str]]:
    """Every app with its owner's email, by name."""
    stmt = select(App, User.email).join(User, User.id == App.owner_id).order_by(func.lower(App.name))
    return [(client_from_row(app), email) for app, email in (await db.execute(stmt)).all()]


async def find_by_name(db: AsyncSession, owner_id: str, name: str) -> Client | None:
    stmt = select(App).where(App.owner_id == owner_id, App.name == name).limit(1)
    app = (await db.execute(stmt)).scalar_one_or_none()
    return client_from_row(app) if app is not None else None


async def _live_test_tokens(db: AsyncSession, client_id: str) -> list[AccessToken]:
    stmt = (
        select(AccessToken)
        .join(App, App.client_id == AccessToken.app_id)
        .where(
            AccessToken.app_id == client_id,
            AccessToken.user_id == App.owner_id,
            AccessToken.grant_type == TEST_GRANT,
            AccessToken.revoked_at.is_(None),
        )
        .order_by(AccessToken.created_at.desc())
    )
    return list((await db.execute(stmt)).scalars())


async def has_test_token(db: AsyncSession, client_id: str) -> bool:
    return bool(await _live_test_tokens(db, client_id))


# ---- creating and changing ------------------------------------------------------------------


def _seal_secret(server_secret: ServerSecret, app: App, raw: str) -> None:
    app.secret_digest = server_secret.digest(raw)
    app.secret_sealed = server_secret.encrypt(raw, f"client-secret:{app.client_id}")
    app.secret_created_at = utcnow()


async def _revoke_test_tokens(db: AsyncSession, client_id: str) -> int:
    """Revoke every live test token of the app (their sealed copies go with them)."""
    count = 0
    for token in await _live_test_tokens(db, client_id):
        count += len((await revocation.revoke_grant(db, TokenGrant(token.id))).access_token_ids)
    return count


async def _issue_test_token(db: AsyncSession, server_secret: ServerSecret, app: App) -> str:
    await _revoke_test_tokens(db, app.client_id)
    raw = new_secret(ACCESS_TOKEN_PREFIX)
    await SqlStorage(db, server_secret).save_token(
        raw,
        NewToken(
            client_id=app.client_id,
            user_id=app.owner_id,
            # A grant of the app's scopes: umbrellas expanded now (oauth/scopes.token_scopes).
            scopes=catalogue().expand_ordered(parse_scope(app.scopes)),
            grant_type=TEST_GRANT,
            keep_sealed=True,
        ),
    )
    return raw


async def register_app(
    db: AsyncSession,
    server_secret: ServerSecret,
    *,
    owner: Person,
    name: str,
    redirect_uris: list[str],
    scopes: str | list[str],
    name_in_space: str | None = None,
    main_url: str = "",
    password_grant: bool | None = None,
    public: bool = False,
    allow_redirect_query: bool = False,
    trusted: bool = False,
    require_pkce: bool = False,
    access_token_ttl: int | str | None = None,
    can_introspect: bool = False,
    client_credentials: bool | None = None,
    admin_scopes: str | list[str] | None = None,
    jwt_access_tokens: bool = False,
    par_required: bool = False,
    dpop_required: bool = False,
    client_id: str | None = None,
    client_secret: str | None = None,
    registered_via: str = "web",
    post_logout_redirect_uris: list[str] | None = None,
    backchannel_logout_uri: str | None = None,
    token_endpoint_auth_method: str | None = None,
    jwks: str | dict[str, Any] | None = None,
    jwks_uri: str | None = None,
    fapi2: bool = False,
) -> CreatedApp:
    """Register an app for ``owner``; returns it with its raw secret and test token.

    ``password_grant=None`` means "the default": on, except for public apps.
    ``client_id`` and ``client_secret`` are for seeding fixed development credentials;
    ``registered_via`` records where the app came from (web, cli, seed).
    ``require_pkce`` is always on for public apps; ``access_token_ttl`` (seconds) opts in to
    expiring access tokens with refresh tokens; ``can_introspect`` makes the app a resource
    server that may introspect any token (RFC 7662). ``client_credentials`` lets the app use
    that grant (RFC 6749 §4.4; ``None``: on when ``admin_scopes`` are given, which need it).
    ``jwt_access_tokens`` gives the app RFC 9068 JWT access tokens (they always expire: after
    ``access_token_ttl``, else an hour). ``par_required``: authorization requests only through
    PAR (RFC 9126 §6). ``dpop_required``: token requests only with a DPoP proof (RFC 9449
    §5.2). ``token_endpoint_auth_method="private_key_jwt"``
    with ``jwks`` or ``jwks_uri`` registers keys instead of a secret (RFC 7523 §2.2): no
    secret is issued. ``fapi2`` puts the app under the FAPI 2.0 Security Profile (it needs
    keys; docs/flows.md)."""
    clean = clean_app_name(name)
    assert clean is not None
    in_space = clean_app_name(name_in_space, field="name_in_space", required=False)
    admin = validate_admin_scopes(admin_scopes)
    # An app of the admin API may hold administrative scopes alone: it only ever uses the
    # client_credentials grant, so it needs no redirect URI either; an app with neither kind
    # of scope could get no token at all.
    granted = validate_scopes(scopes, trusted=trusted, required=False)
    if not granted and not admin:
        raise FieldError("scopes", NEEDS_A_SCOPE)
    uris = validate_redirect_uris(redirect_uris, required=bool(granted))
    url = validate_main_url(main_url)
    password = _grant_flags(public, password_grant)
    ttl = clean_access_token_ttl(access_token_ttl)
    machine = _client_credentials_flags(public, client_credentials, admin)
    cid = _validate_client_id(client_id) if client_id is not None else new_id()
    keys = _client_keys(
        public,
        clean_auth_method(token_endpoint_auth_method),
        validate_jwks(jwks),
        validate_jwks_uri(jwks_uri),
    )
    with_keys = keys["token_endpoint_auth_method"] == PRIVATE_KEY_JWT
    profile = _profile(fapi2, keys["token_endpoint_auth_method"])
    if client_secret is not None:
        if public:
            raise FieldError("client_secret", N_("Public apps have no client secret."))
        if with_keys:
            raise FieldError("client_secret", N_("An app with private_key_jwt has no client secret."))
        _validate_client_secret(client_secret)
    values = {
        "client_id": cid,
        "owner_id": owner.id,
        "name": clean,
        "name_in_space": in_space,
        "main_url": url,
        "redirect_uris": uris,
        "scopes": format_scope(granted),
        "password_grant": password,
        "public": public,
        "allow_redirect_query": allow_redirect_query,
        "trusted": trusted,
        "require_pkce": bool(require_pkce) or public,
        "access_token_ttl": ttl,
        "can_introspect": bool(can_introspect),
        "jwt_access_tokens": bool(jwt_access_tokens),
        "par_required": bool(par_required),
        "dpop_required": bool(dpop_required),
        "client_credentials": machine,
        "admin_scopes": format_scope(admin),
        "registered_via": registered_via,
        "post_logout_redirect_uris": validate_post_logout_redirect_uris(post_logout_redirect_uris or []),
        "backchannel_logout_uri": validate_backchannel_logout_uri(backchannel_logout_uri),
        **keys,
        "profile": profile,
    }
    if not await insert_unless_taken(db, App, values):
        raise FieldError("client_id", N_("The client id “{client_id}” is taken."), client_id=cid)
    app = await _existing(db, cid)
    secret: str | None = None
    if not public and not with_keys:
        secret = client_secret or new_secret(CLIENT_SECRET_PREFIX)
        _seal_secret(server_secret, app, secret)
        await db.flush()
    token = await _issue_test_token(db, server_secret, app) if granted else None
    await record_event(db, events.APP_CREATED, user_id=owner.id, app_id=cid, detail={"name": app.name})
    return CreatedApp(app=client_from_row(app, owner.name), client_secret=secret, test_access_token=token)


async def update_app(db: AsyncSession, client_id: str, **fields: Any) -> Client:
    """Change the given settings (validated like :func:`register_app`). Existing tokens keep
    their scopes, and their expiry: ``access_token_ttl`` applies to tokens issued from now on.
    An app cannot switch between public and confidential; a public app always requires PKCE."""
    unknown = set(fields) - EDITABLE
    if unknown:
        raise TypeError(f"update_app() got unexpected fields: {', '.join(sorted(unknown))}")
    app = await _existing(db, client_id)
    if "public" in fields and bool(fields["public"]) != app.public:
        raise FieldError(
            "public", N_("An app cannot switch between public and confidential; register a new one.")
        )
    trusted = bool(fields.get("trusted", app.trusted))
    changes: dict[str, Any] = {"trusted": trusted}
    if "name" in fields:
        changes["name"] = clean_app_name(fields["name"])
    if "name_in_space" in fields:
        changes["name_in_space"] = clean_app_name(
            fields["name_in_space"], field="name_in_space", required=False
        )
    if "main_url" in fields:
        changes["main_url"] = validate_main_url(fields["main_url"])
    if "redirect_uris" in fields:
        changes["redirect_uris"] = validate_redirect_uris(fields["redirect_uris"])
    # Re-check the scopes when they change or when the app stops being trusted.
    if "scopes" in fields or trusted != app.trusted:
        changes["scopes"] = format_scope(
            validate_scopes(fields.get("scopes", app.scopes), trusted=trusted, required=False)
        )
    if "password_grant" in fields:
        changes["password_grant"] = _grant_flags(app.public, fields["password_grant"])
    if "allow_redirect_query" in fields:
        changes["allow_redirect_query"] = bool(fields["allow_redirect_query"])
    if "require_pkce" in fields:
        changes["require_pkce"] = bool(fields["require_pkce"]) or app.public
    if "access_token_ttl" in fields:
        changes["access_token_ttl"] = clean_access_token_ttl(fields["access_token_ttl"])
    if "can_introspect" in fields:
        changes["can_introspect"] = bool(fields["can_introspect"])
    if "jwt_access_tokens" in fields:
        changes["jwt_access_tokens"] = bool(fields["jwt_access_tokens"])
    if "par_required" in fields:
        changes["par_required"] = bool(fields["par_required"])
    if "dpop_required" in fields:
        changes["dpop_required"] = bool(fields["dpop_required"])
    if "post_logout_redirect_uris" in fields:
        changes["post_logout_redirect_uris"] = validate_post_logout_redirect_uris(
            fields["post_logout_redirect_uris"] or []
        )
    if "backchannel_logout_uri" in fields:
        changes["backchannel_logout_uri"] = validate_backchannel_logout_uri(fields["backchannel_logout_uri"])
    if {"token_endpoint_auth_method", "jwks", "jwks_uri"} & set(fields):
        keys = _client_keys(
            app.public,
            clean_auth_method(fields["token_endpoint_auth_method"])
            if "token_endpoint_auth_method" in fields
            else app.token_endpoint_auth_method,
            validate_jwks(fields["jwks"]) if "jwks" in fields else app.jwks,
            validate_jwks_uri(fields["jwks_uri"]) if "jwks_uri" in fields else app.jwks_uri,
        )
        changes.update(keys)
        if keys["token_endpoint_auth_method"] == PRIVATE_KEY_JWT and app.secret_digest:
            # Keys replace the secret (RFC 7591 §2: one method): it stops working now.
            changes.update(
                secret_digest=None,
                secret_sealed=None,
                previous_secret_digest=None,
                previous_secret_expires_at=None,
            )
    if "fapi2" in fields or "token_endpoint_auth_method" in changes:
        fapi2 = bool(fields["fapi2"]) if "fapi2" in fields else app.profile == FAPI2
        changes["profile"] = _profile(
            fapi2, changes.get("token_endpoint_auth_method", app.token_endpoint_auth_method)
        )
    if "client_credentials" in fields or "admin_scopes" in fields:
        admin = (
            validate_admin_scopes(fields["admin_scopes"])
            if "admin_scopes" in fields
            else parse_scope(app.admin_scopes)
        )
        # Turning the grant off keeps no administrative scopes; adding scopes turns it on.
        switch = fields.get("client_credentials")
        if switch is False and "admin_scopes" not in fields:
            admin = ()
        if switch is None:
            switch = True if admin else app.client_credentials
        changes["client_credentials"] = _client_credentials_flags(app.public, switch, admin)
        changes["admin_scopes"] = format_scope(admin)
        # Tokens never keep rights the app lost: its client_credentials tokens go when the
        # grant is switched off or an administrative scope is taken away.
        lost = set(parse_scope(app.admin_scopes)) - set(admin)
        if lost or (app.client_credentials and not changes["client_credentials"]):
            await _revoke_machine_tokens(db, client_id)
    if not changes.get("scopes", app.scopes) and not changes.get("admin_scopes", app.admin_scopes):
        raise FieldError("scopes", NEEDS_A_SCOPE)
    for key, value in changes.items():
        setattr(app, key, value)
    await db.flush()
    return client_from_row(app)


async def _revoke_machine_tokens(db: AsyncSession, client_id: str) -> int:
    """Revoke the app's live client_credentials tokens."""
    stmt = select(AccessToken.id).where(
        AccessToken.app_id == client_id,
        AccessToken.grant_type == CLIENT_CREDENTIALS,
        AccessToken.revoked_at.is_(None),
    )
    count = 0
    for token_id in list((await db.execute(stmt)).scalars()):
        count += len((await revocation.revoke_grant(db, TokenGrant(token_id))).access_token_ids)
    return count


async def regenerate_secret(
    db: AsyncSession, server_secret: ServerSecret, client_id: str, *, by: str | None = None, ip: str = ""
) -> str:
    """A new client secret; the old one stops working once this commits."""
    return (await rotate_secret(db, server_secret, client_id, overlap_seconds=0, by=by, ip=ip)).client_secret


@dataclass(frozen=True)
class RotatedSecret:
    client_secret: str
    # Until when the previous secret still works; None: it stopped at once.
    previous_expires_at: datetime | None


def clean_overlap(raw: int | str | None) -> int:
    """Seconds the previous secret keeps working after a rotation: 0 to a week."""
    if raw is None or isinstance(raw, bool) or str(raw).strip() == "":
        return 0
    try:
        seconds = ascii_int(str(raw).strip())
    except BadInput as exc:
        raise FieldError("overlap_seconds", N_("Enter a whole number of seconds.")) from exc
    if not 0 <= seconds <= MAX_SECRET_OVERLAP:
        raise FieldError("overlap_seconds", N_("Use 0 to {n} seconds (a week)."), n=MAX_SECRET_OVERLAP)
    return seconds


async def rotate_secret(
    db: AsyncSession,
    server_secret: ServerSecret,
    client_id: str,
    *,
    overlap_seconds: int | str | None = 0,
    by: str | None = None,
    ip: str = "",
) -> RotatedSecret:
    """A new client secret. With an overlap window the previous secret keeps working until
    it closes (both are accepted meanwhile: the app's servers can switch one by one); with
    none it stops once this commits. A secret that was already the previous one is dropped."""
    overlap = clean_overlap(overlap_seconds)
    app = await _existing(db, client_id)
    if app.public:
        raise FieldError("client_secret", N_("Public apps have no client secret."))
    if app.token_endpoint_auth_method == PRIVATE_KEY_JWT:
        raise FieldError("client_secret", N_("An app with private_key_jwt has no client secret."))
    until = utcnow() + timedelta(seconds=overlap) if overlap and app.secret_digest else None
    app.previous_secret_digest = app.secret_digest if until else None
    app.previous_secret_expires_at = until
    raw = new_secret(CLIENT_SECRET_PREFIX)
    _seal_secret(server_secret, app, raw)
    await db.flush()
    await record_event(
        db,
        events.CLIENT_SECRET_REGENERATED,
        user_id=by,
        app_id=client_id,
        ip=ip,
        detail={"overlap_seconds": overlap} if overlap else None,
    )
    return RotatedSecret(client_secret=raw, previous_expires_at=until)


async def revoke_test_token(db: AsyncSession, client_id: str, *, by: str | None = None, ip: str = "") -> bool:
    """Revoke the owner's test token; ``False`` if there was none."""
    revoked = await _revoke_test_tokens(db, client_id) > 0
    if revoked:
        await record_event(db, events.TEST_TOKEN_REVOKED, user_id=by, app_id=client_id, ip=ip)
    return revoked


async def recreate_test_token(
    db: AsyncSession, server_secret: ServerSecret, client_id: str, *, by: str | None = None, ip: str = ""
) -> str:
    """A new test token with the app's current scopes; the old one is revoked."""
    app = await _existing(db, client_id)
    if not parse_scope(app.scopes):
        raise FieldError(
            "scopes", N_("This app has administrative scopes only: a test token could hold nothing.")
        )
    raw = await _issue_test_token(db, server_secret, app)
    await record_event(db, events.TEST_TOKEN_CREATED, user_id=by, app_id=client_id, ip=ip)
    return raw


async def reveal(
    db: AsyncSession, server_secret: ServerSecret, client_id: str, *, secret: bool = True, token: bool = True
) -> Revealed:
    """The sealed client secret and live test token, decrypted, for the app's owner; only
    those asked for (the other is ``None``)."""
    app = await _existing(db, client_id)
    raw_secret = None
    if secret and app.secret_sealed:
        raw_secret = server_secret.decrypt(app.secret_sealed, f"client-secret:{app.client_id}")
    if not token:
        return Revealed(client_secret=raw_secret, test_access_token=None)
    tokens = await _live_test_tokens(db, client_id)
    row = tokens[0] if tokens else None
    raw_token = server_secret.decrypt(row.sealed, f"token:{row.id}") if row and row.sealed else None
    return Revealed(client_secret=raw_secret, test_access_token=raw_token)


async def delete_app(db: AsyncSession, client_id: str) -> None:
    """Revoke everything the app holds, then delete it (the database removes its tokens,
    codes and consents with it). What goes with it is recorded: ``consent.revoked`` for each
    consent people gave it, ``token.revoked`` for its tokens. The pages, the CLI, the admin
    API and account deletion all delete apps through here."""
    app = await _existing(db, client_id)
    await grants.record_consents_revoked(db, Consent.app_id == client_id, reason="app_deleted")
    revoked = await revocation.revoke_grant(db, AppGrants(client_id))
    if revoked.tokens:
        await grants.record_revocation(
            db, revoked, user_id=None, client_id=client_id, space_id=None, by="system", reason="app_deleted"
        )
    # Recorded before the row goes (the event's app id is kept in its detail).
    await record_event(
        db, events.APP_DELETED, user_id=app.owner_id, app_id=client_id, detail={"client_id": client_id}
    )
    await db.delete(app)
    await db.flush()


# ---- dynamic client registration (RFC 7591) -------------------------------------------------

DYNAMIC_OWNER_EMAIL = "dynamic-registration@frontdesk.invalid"
DYNAMIC_OWNER_NAME = "Dynamic client registration"
# Not an Argon2 hash: no password ever matches it, so nobody can log in as this user. The
# address uses the reserved .invalid TLD, which sign-up refuses, so nobody can claim it either.
_NO_PASSWORD = "!no-password:dynamic-registration"


async def _dynamic_owner(db: AsyncSession) -> User:
    """The system user owning dynamically registered apps, created on first use."""
    stmt = select(User).where(User.email_key == DYNAMIC_OWNER_EMAIL)
    user = (await db.execute(stmt)).scalar_one_or_none()
    if user is None:
        # Created concurrently by another registration: either insert wins, both read it.
        values = {
            "id": new_id(),
            "email": DYNAMIC_OWNER_EMAIL,
            "email_key": DYNAMIC_OWNER_EMAIL,
            "name": DYNAMIC_OWNER_NAME,
            "password_hash": _NO_PASSWORD,
        }
        await insert_unless_taken(db, User, values)
        user = (await db.execute(stmt)).scalar_one()
    if user.password_hash != _NO_PASSWORD:
        raise RuntimeError(f"{DYNAMIC_OWNER_EMAIL} is a real account; refusing to give it dynamic apps")
    return user


async def register_dynamic_client(
    db: AsyncSession,
    *,
    name: str,
    redirect_uris: list[str],
    scopes: str | list[str],
    client_uri: str | None,
    metadata: dict[str, Any],
    access_token_ttl: int | None = None,
    post_logout_redirect_uris: list[str] | None = None,
    backchannel_logout_uri: str | None = None,
    dpop_required: bool = False,
    par_required: bool = False,
    token_endpoint_auth_method: str | None = None,
    jwks: str | None = None,
    jwks_uri: str | None = None,
) -> Client:
    """Register a public PKCE client for RFC 7591 dynamic registration, or a confidential one
    with keys (``private_key_jwt``, RFC 7523 §2.2). It has no secret and no test token, is
    owned by a system user, and records the registered metadata."""
    method = clean_auth_method(token_endpoint_auth_method)
    public = method != PRIVATE_KEY_JWT
    keys = _client_keys(public, method, validate_jwks(jwks), validate_jwks_uri(jwks_uri))
    clean = clean_app_name(name)
    assert clean is not None
    uris = validate_redirect_uris(redirect_uris)
    granted = validate_scopes(scopes, trusted=False)
    url = validate_main_url(client_uri)
    owner = await _dynamic_owner(db)
    app = App(
        client_id=new_id(),
        owner_id=owner.id,
        name=clean,
        main_url=url,
        redirect_uris=uris,
        scopes=format_scope(granted),
        password_grant=False,
        public=public,
        allow_redirect_query=False,
        trusted=False,
        require_pkce=True,
        access_token_ttl=access_token_ttl,
        registered_via="dynamic",
        **keys,
        registration_metadata=metadata,
        post_logout_redirect_uris=validate_post_logout_redirect_uris(post_logout_redirect_uris or []),
        backchannel_logout_uri=validate_backchannel_logout_uri(backchannel_logout_uri),
        dpop_required=dpop_required,
        par_required=par_required,
        created_at=utcnow(),
    )
    db.add(app)
    await db.flush()
    return client_from_row(app, owner.name)
