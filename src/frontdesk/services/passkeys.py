"""Passkeys (WebAuthn Level 2, with py_webauthn): registering them on the account page, and
using them as a second factor or to sign in without a password. Nothing here commits.

* **Relying party id.** Passkeys are made for one RP id, ``Settings.base_domain`` (the main
  host without ``www.``). A browser uses a passkey on a page whose host is that domain or one
  of its subdomains (WebAuthn §5.1.3 step 8, §5.1.4.1 step 7), so they work on the main host
  and on every space's subdomain host; a custom domain cannot use them (:func:`usable_on`),
  and its pages do not offer them.
* **Challenges** (§13.4.3): 32 random bytes, one outstanding per browser and ceremony, kept
  in ``webauthn_challenges`` under a digest of the *binding* the web layer supplies (its
  anti-forgery value for this browser and session, web/routes/pages/passkeys.py); they last
  :data:`CHALLENGE_LIFETIME` and are deleted by the check that uses them (a conditional
  DELETE: of two uses one wins).
* **Sign counter** (§6.1.1): a counter that does not grow (when either value is non-zero)
  refuses the login and records ``passkey.sign_count_regressed``.
* **User handle**: the account id's bytes (random, no personal data, §14.6.1); a passwordless
  login finds the account from it and checks the credential belongs to it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk import events
from frontdesk.errors import Conflict, FieldError, NotFound
from frontdesk.i18n import N_
from frontdesk.names import check_name
from frontdesk.security.randoms import new_id
from frontdesk.security.server_secret import ServerSecret
from frontdesk.store.audit_storage import record_event
from frontdesk.store.inserts import insert_unless_taken
from frontdesk.store.models import User, WebAuthnChallenge, WebAuthnCredential
from frontdesk.store.types import utcnow

# py_webauthn (with pyOpenSSL, cbor2 and pyasn1) loads with the first passkey ceremony, not
# with every worker (docs/performance.md, "Memory"): the functions below import it.

PASSKEY = "passkey"
# The ceremonies a challenge is for.
REGISTER = "register"
FACTOR = "factor"
LOGIN = "login"
CHALLENGE_LIFETIME = timedelta(minutes=5)
# What the browser waits for the person (WebAuthn §5.4 ``timeout``), in milliseconds.
TIMEOUT_MS = 120_000
MAX_PASSKEYS = 20
NAME_MAX = 100
# A credential JSON larger than this is no browser's answer.
CREDENTIAL_MAX = 64_000


@dataclass(frozen=True)
class Passkey:
    """What the account page shows of a passkey."""

    id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    transports: tuple[str, ...]


@dataclass(frozen=True)
class Verified:
    """A passkey that signed this challenge."""

    user_id: str
    passkey_id: str
    # The authenticator verified the person (PIN, biometrics; WebAuthn §6.1 flag UV).
    user_verified: bool


class PasskeyRefused(Exception):
    """The answer did not prove a passkey. ``user_id``: whose passkey it named, when known
    (for the audit log and the failure throttle)."""

    def __init__(self, message: str, user_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.user_id = user_id


def rp_id_for(base_domain: str) -> str:
    return base_domain


def usable_on(host: str, rp_id: str) -> bool:
    """Whether a page on ``host`` can use passkeys made for ``rp_id``: the host is the RP id
    or a subdomain of it (WebAuthn §5.1.4.1 step 7)."""
    return host == rp_id or host.endswith("." + rp_id)


def _to_passkey(row: WebAuthnCredential) -> Passkey:
    return Passkey(
        id=row.id,
        name=row.name,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        transports=tuple(row.transports or ()),
    )


async def list_passkeys(db: AsyncSession, user_id: str) -> list[Passkey]:
    rows = await db.scalars(
        select(WebAuthnCredential)
        .where(WebAuthnCredential.user_id == user_id)
        .order_by(WebAuthnCredential.created_at, WebAuthnCredential.id)
    )
    return [_to_passkey(row) for row in rows]


async def has_passkey(db: AsyncSession, user_id: str) -> bool:
    found = await db.scalar(
        select(WebAuthnCredential.id).where(WebAuthnCredential.user_id == user_id).limit(1)
    )
    return found is not None


# ---- challenges ------------------------------------------------------------------------------


def _challenge_id(secret: ServerSecret, purpose: str, binding: str) -> str:
    return secret.digest(f"webauthn-challenge|{purpose}|{binding}")


async def _new_challenge(
    db: AsyncSession, secret: ServerSecret, purpose: str, binding: str, user_id: str | None
) -> bytes:
    """A fresh challenge for this browser and ceremony (replacing one it had)."""
    from webauthn.helpers import bytes_to_base64url

    now = utcnow()
    row_id = _challenge_id(secret, purpose, binding)
    await db.execute(
        delete(WebAuthnChallenge).where(
            (WebAuthnChallenge.id == row_id) | (WebAuthnChallenge.expires_at < now)
        )
    )
    challenge = secrets.token_bytes(32)
    values = {
        "id": row_id,
        "purpose": purpose,
        "challenge": bytes_to_base64url(challenge),
        "user_id": user_id,
        "expires_at": now + CHALLENGE_LIFETIME,
    }
    if not await insert_unless_taken(db, WebAuthnChallenge, values):
        # The same browser asked twice at once: the other request's challenge stands.
        raise Conflict(N_("Another passkey check is under way in this browser. Try again."))
    return challenge


async def _take_challenge(
    db: AsyncSession, secret: ServerSecret, purpose: str, binding: str, user_id: str | None
) -> bytes:
    """This browser's challenge for the ceremony, used up here (deleted whatever follows)."""
    from webauthn.helpers import base64url_to_bytes

    row_id = _challenge_id(secret, purpose, binding)
    row = await db.get(WebAuthnChallenge, row_id, populate_existing=True)
    if row is None:
        raise PasskeyRefused(N_("Start again: ask your browser for the passkey once more."), user_id)
    challenge, expires_at, owner = row.challenge, row.expires_at, row.user_id
    result = await db.execute(
        delete(WebAuthnChallenge).where(
            WebAuthnChallenge.id == row_id, WebAuthnChallenge.challenge == challenge
        )
    )
    if int(result.rowcount or 0) != 1:  # type: ignore[attr-defined]
        raise PasskeyRefused(N_("Start again: ask your browser for the passkey once more."), user_id)
    if owner != user_id:
        raise PasskeyRefused(N_("Start again: ask your browser for the passkey once more."), user_id)
    if expires_at < utcnow():
        raise PasskeyRefused(N_("That took too long. Try again."), user_id)
    return base64url_to_bytes(challenge)


# ---- registering -----------------------------------------------------------------------------


async def registration_options(
    db: AsyncSession,
    secret: ServerSecret,
    binding: str,
    *,
    user_id: str,
    rp_id: str,
    rp_name: str,
) -> str:
    """``PublicKeyCredentialCreationOptions`` as JSON (base64url for the binary fields): a
    discoverable credential preferred (passwordless login needs one), user verification
    preferred, the person's passkeys excluded (no second passkey on one authenticator)."""
    from webauthn import generate_registration_options, options_to_json
    from webauthn.helpers import base64url_to_bytes
    from webauthn.helpers.structs import (
        AuthenticatorSelectionCriteria,
        PublicKeyCredentialDescriptor,
        ResidentKeyRequirement,
        UserVerificationRequirement,
    )

    user = await db.get(User, user_id)
    if user is None:
        raise NotFound("account")
    existing = await db.scalars(
        select(WebAuthnCredential.credential_id).where(WebAuthnCredential.user_id == user_id)
    )
    challenge = await _new_challenge(db, secret, REGISTER, binding, user_id)
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name=rp_name,
        user_id=user_id.encode(),
        user_name=user.email,
        user_display_name=user.name,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=base64url_to_bytes(c)) for c in existing],
    )
    return str(options_to_json(options))


def _checked_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise FieldError("name", N_("Give the passkey a name, e.g. the device it is on."))
    if len(name) > NAME_MAX:
        raise FieldError("name", N_("At most {n} characters."), n=NAME_MAX)
    try:
        check_name(name)
    except ValueError as exc:
        raise FieldError("name", str(exc)) from exc
    return name


async def register(
    db: AsyncSession,
    secret: ServerSecret,
    binding: str,
    *,
    user_id: str,
    credential_json: str,
    name: str,
    rp_id: str,
    origin: str,
) -> Passkey:
    """Check the browser's answer to :func:`registration_options` (its challenge, origin, RP
    id, user presence; WebAuthn §7.1) and keep the new passkey. :class:`FieldError` for
    ``passkey`` (or ``name``) when it cannot be kept."""
    from webauthn import verify_registration_response
    from webauthn.helpers import bytes_to_base64url, parse_registration_credential_json
    from webauthn.helpers.exceptions import WebAuthnException
    from webauthn.helpers.structs import AuthenticatorTransport

    name = _checked_name(name)
    try:
        challenge = await _take_challenge(db, secret, REGISTER, binding, user_id)
    except PasskeyRefused as exc:
        raise FieldError("passkey", exc.message) from exc
    count = await db.scalar(select(func.count()).where(WebAuthnCredential.user_id == user_id))
    if int(count or 0) >= MAX_PASSKEYS:
        raise FieldError("passkey", N_("An account can have at most {n} passkeys."), n=MAX_PASSKEYS)
    if len(credential_json) > CREDENTIAL_MAX:
        raise FieldError("passkey", N_("Your browser's answer was not a passkey."))
    try:
        credential = parse_registration_credential_json(credential_json)
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise FieldError("passkey", N_("Your browser's answer could not be verified. Try again.")) from exc
    credential_id = bytes_to_base64url(verified.credential_id)
    transports = [
        t.value for t in credential.response.transports or () if isinstance(t, AuthenticatorTransport)
    ]
    passkey = Passkey(
        id=new_id(), name=name, created_at=utcnow(), last_used_at=None, transports=tuple(transports)
    )
    values = {
        "id": passkey.id,
        "user_id": user_id,
        "credential_id": credential_id,
        "public_key": bytes_to_base64url(verified.credential_public_key),
        "sign_count": verified.sign_count,
        "transports": transports,
        "name": name,
        "user_verified": verified.user_verified,
        "created_at": passkey.created_at,
    }
    # The credential id is unique (WebAuthn §7.1 step 22): one taken already is refused.
    if not await insert_unless_taken(db, WebAuthnCredential, values):
        raise FieldError("passkey", N_("This passkey is registered already."))
    await record_event(db, events.PASSKEY_ADDED, user_id=user_id, detail={"passkey_id": passkey.id})
    return passkey


async def _own(db: AsyncSession, user_id: str, passkey_id: str) -> WebAuthnCredential:
    row = await db.get(WebAuthnCredential, passkey_id, populate_existing=True)
    if row is None or row.user_id != user_id:
        raise NotFound("passkey")
    return row


async def rename(db: AsyncSession, user_id: str, passkey_id: str, name: str) -> None:
    row = await _own(db, user_id, passkey_id)
    row.name = _checked_name(name)
    await db.flush()


async def remove(db: AsyncSession, user_id: str, passkey_id: str) -> None:
    row = await _own(db, user_id, passkey_id)
    await db.delete(row)
    await db.flush()
    await record_event(db, events.PASSKEY_REMOVED, user_id=user_id, detail={"passkey_id": passkey_id})


# ---- signing in ------------------------------------------------------------------------------


async def authentication_options(
    db: AsyncSession,
    secret: ServerSecret,
    binding: str,
    *,
    purpose: str,
    rp_id: str,
    user_id: str | None = None,
) -> str:
    """``PublicKeyCredentialRequestOptions`` as JSON. As a second factor (``purpose`` FACTOR)
    the person's passkeys are listed and user verification is preferred; for a passwordless
    login (LOGIN) none are listed (the authenticator offers its discoverable credentials,
    WebAuthn §5.1.4.1) and user verification is required: the passkey is then the whole
    login, two factors in one (docs/guide.md, "Passkeys")."""
    from webauthn import generate_authentication_options, options_to_json
    from webauthn.helpers import base64url_to_bytes
    from webauthn.helpers.structs import (
        AuthenticatorTransport,
        PublicKeyCredentialDescriptor,
        UserVerificationRequirement,
    )

    allow: list[PublicKeyCredentialDescriptor] = []
    if purpose == FACTOR:
        assert user_id is not None
        transports = {t.value for t in AuthenticatorTransport}
        rows = await db.scalars(select(WebAuthnCredential).where(WebAuthnCredential.user_id == user_id))
        allow = [
            PublicKeyCredentialDescriptor(
                id=base64url_to_bytes(row.credential_id),
                transports=[AuthenticatorTransport(t) for t in row.transports if t in transports],
            )
            for row in rows
        ]
    challenge = await _new_challenge(db, secret, purpose, binding, user_id)
    options = generate_authentication_options(
        rp_id=rp_id,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        allow_credentials=allow,
        user_verification=UserVerificationRequirement.REQUIRED
        if purpose == LOGIN
        else UserVerificationRequirement.PREFERRED,
    )
    return str(options_to_json(options))


async def authenticate(
    db: AsyncSession,
    secret: ServerSecret,
    binding: str,
    *,
    purpose: str,
    credential_json: str,
    rp_id: str,
    origin: str,
    user_id: str | None = None,
) -> Verified:
    """Check the browser's answer to :func:`authentication_options` (WebAuthn §7.2): the
    challenge, origin, RP id, the signature with the stored key, user presence (and user
    verification for a passwordless login), and that the counter grew. As a second factor the
    passkey must be ``user_id``'s; for a passwordless login the user handle names the account
    and the passkey must be its. :class:`PasskeyRefused` otherwise."""
    from webauthn import verify_authentication_response
    from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, parse_authentication_credential_json
    from webauthn.helpers.exceptions import WebAuthnException

    challenge = await _take_challenge(db, secret, purpose, binding, user_id)
    if len(credential_json) > CREDENTIAL_MAX:
        raise PasskeyRefused(N_("Your browser's answer was not a passkey."), user_id)
    try:
        credential = parse_authentication_credential_json(credential_json)
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise PasskeyRefused(N_("Your browser's answer was not a passkey."), user_id) from exc
    row = await db.scalar(
        select(WebAuthnCredential).where(
            WebAuthnCredential.credential_id == bytes_to_base64url(credential.raw_id)
        )
    )
    if row is None:
        raise PasskeyRefused(N_("This passkey is not registered here."), user_id)
    if purpose == FACTOR and row.user_id != user_id:
        raise PasskeyRefused(N_("This passkey belongs to another account."), user_id)
    if purpose == LOGIN:
        handle = credential.response.user_handle
        if handle is None or handle != row.user_id.encode():
            raise PasskeyRefused(N_("This passkey could not sign you in."), row.user_id)
        owner = await db.get(User, row.user_id)
        # A disabled account (admin API) signs in no more than with its password.
        if owner is None or owner.disabled_at is not None:
            raise PasskeyRefused(N_("This passkey could not sign you in."), row.user_id)
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            credential_public_key=base64url_to_bytes(row.public_key),
            # The counter is checked below, to tell a regression from other failures.
            credential_current_sign_count=0,
            require_user_verification=purpose == LOGIN,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise PasskeyRefused(N_("This passkey could not be verified."), row.user_id) from exc
    stored, new = int(row.sign_count), int(verified.new_sign_count)
    if (stored or new) and new <= stored:
        # WebAuthn §6.1.1: the authenticator may be cloned. Refused; the row keeps its counter.
        await record_event(
            db,
            events.PASSKEY_SIGN_COUNT_REGRESSED,
            user_id=row.user_id,
            detail={"passkey_id": row.id, "stored": stored, "received": new},
        )
        raise PasskeyRefused(N_("This passkey could not be verified."), row.user_id)
    result = await db.execute(
        update(WebAuthnCredential)
        .where(WebAuthnCredential.id == row.id, WebAuthnCredential.sign_count == stored)
        .values(sign_count=new, last_used_at=utcnow())
    )
    if int(result.rowcount or 0) != 1:  # type: ignore[attr-defined]
        raise PasskeyRefused(N_("This passkey could not be verified."), row.user_id)
    return Verified(user_id=row.user_id, passkey_id=row.id, user_verified=verified.user_verified)
