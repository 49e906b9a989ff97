"""Second factors: an authenticator app (TOTP, RFC 6238, with pyotp) and single-use recovery
codes. Nothing here commits (the caller's unit of work does).

* The TOTP shared secret is stored sealed with the server secret (AES-GCM bound to the
  account, ``security/server_secret.py``), never in plaintext; the row keeps the time step of
  the last accepted code, and a code is only accepted for a later step, so a code seen once
  (shoulder-surfed, phished, replayed) is refused for the rest of its window (RFC 6238 §5.2).
  One step of clock drift either way is accepted (§6).
* Recovery codes: ten at a time, shown once, stored as digests (HMAC with the server
  secret); each works once (a conditional UPDATE: of two concurrent uses one wins).
* :func:`factors_of` lists the kinds a person can confirm a login with; the login's factor
  page (web/routes/pages/second_factor.py) shows one form per kind; passkeys
  (services/passkeys.py) are one of them and count for :func:`has_second_factor`.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk import events
from frontdesk.errors import Conflict, FieldError
from frontdesk.i18n import N_
from frontdesk.security.randoms import new_id
from frontdesk.security.server_secret import ServerSecret
from frontdesk.services import passkeys
from frontdesk.store.audit_storage import record_event
from frontdesk.store.models import RecoveryCode, Space, TotpFactor
from frontdesk.store.types import utcnow

TOTP = "totp"
RECOVERY = "recovery"
RECOVERY_CODE_COUNT = 10
# Lower-case letters and digits without the look-alikes (0/o, 1/l/i): 31 symbols, ten of them
# per code (about 49 bits), shown as two groups of five.
_RECOVERY_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
# Codes from the step before and after the current one are accepted (RFC 6238 §6).
DRIFT_STEPS = 1


def _context(user_id: str) -> str:
    return f"totp-secret|{user_id}"


def _digest(secret: ServerSecret, code: str) -> str:
    return secret.digest("recovery-code|" + normalize_recovery_code(code))


def normalize_recovery_code(code: str) -> str:
    return "".join(ch for ch in code.strip().lower() if ch.isascii() and ch.isalnum())


def _digits(code: str) -> str:
    return "".join(ch for ch in code if not ch.isspace())


@dataclass(frozen=True)
class FactorStatus:
    """What the account page shows."""

    totp: bool
    # A set-up was started and awaits its first code.
    totp_pending: bool
    recovery_codes_left: int

    @property
    def enabled(self) -> bool:
        return self.totp


async def _totp_row(db: AsyncSession, user_id: str) -> TotpFactor | None:
    return await db.get(TotpFactor, user_id, populate_existing=True)


async def status(db: AsyncSession, user_id: str) -> FactorStatus:
    row = await _totp_row(db, user_id)
    left = await db.scalar(
        select(func.count()).where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
    )
    return FactorStatus(
        totp=row is not None and row.confirmed_at is not None,
        totp_pending=row is not None and row.confirmed_at is None,
        recovery_codes_left=int(left or 0),
    )


async def _has_totp(db: AsyncSession, user_id: str) -> bool:
    found = await db.scalar(
        select(TotpFactor.user_id).where(TotpFactor.user_id == user_id, TotpFactor.confirmed_at.is_not(None))
    )
    return found is not None


async def has_second_factor(db: AsyncSession, user_id: str) -> bool:
    """Whether the account has a second factor (its login asks for it): an authenticator
    app, or a passkey (services/passkeys.py)."""
    return await _has_totp(db, user_id) or await passkeys.has_passkey(db, user_id)


async def factors_of(db: AsyncSession, user_id: str) -> list[str]:
    """The kinds of second factor this person can confirm a login with, in the order the
    factor page offers them: passkeys first (nothing to type), then the app and its
    recovery codes."""
    kinds: list[str] = []
    if await passkeys.has_passkey(db, user_id):
        kinds.append(passkeys.PASSKEY)
    if await _has_totp(db, user_id):
        kinds.append(TOTP)
        kinds.append(RECOVERY)
    return kinds


# ---- setting up -----------------------------------------------------------------------------


async def begin_totp(db: AsyncSession, secret: ServerSecret, user_id: str) -> str:
    """Start (or restart) setting up an authenticator app: a new shared secret, sealed, that
    counts once a first code confirms it. Refused while one is on."""
    row = await _totp_row(db, user_id)
    if row is not None and row.confirmed_at is not None:
        raise Conflict("two-step login is already on; turn it off first")
    raw = pyotp.random_base32()  # 160 bits (RFC 4226 §4 R6)
    sealed = secret.encrypt(raw, _context(user_id))
    if row is None:
        db.add(TotpFactor(user_id=user_id, secret_sealed=sealed, created_at=utcnow()))
    else:
        row.secret_sealed, row.created_at, row.last_step = sealed, utcnow(), None
    await db.flush()
    return raw


async def pending_totp_secret(db: AsyncSession, secret: ServerSecret, user_id: str) -> str | None:
    """The shared secret of a set-up that awaits its first code (to show it again)."""
    row = await _totp_row(db, user_id)
    if row is None or row.confirmed_at is not None:
        return None
    return secret.decrypt(row.secret_sealed, _context(user_id))


def provisioning_uri(raw: str, account: str, issuer: str) -> str:
    """The ``otpauth://`` URI authenticator apps read from the QR code."""
    return pyotp.TOTP(raw).provisioning_uri(name=account, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The QR code of ``uri`` as an inline SVG element (drawn here; no outside service)."""
    import segno  # only when a QR code is drawn (docs/performance.md, "Memory")

    qr = segno.make(uri, error="m")
    svg: str = qr.svg_inline(scale=4, dark="#000", light="#fff", title="QR code for your authenticator app")
    return svg


def _matching_step(raw: str, code: str, now: datetime) -> int | None:
    """The time step whose code ``code`` is (the current one or its neighbours), if any."""
    code = _digits(code)
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(raw)
    current = totp.timecode(now)
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


async def confirm_totp(
    db: AsyncSession, secret: ServerSecret, user_id: str, code: str, *, now: datetime | None = None
) -> list[str]:
    """Turn two-step login on with the first code from the app; returns the new recovery
    codes (to show once). :class:`FieldError` for ``code`` when it does not match."""
    row = await _totp_row(db, user_id)
    if row is None or row.confirmed_at is not None:
        raise FieldError("code", N_("Start setting up the authenticator app first."))
    step = _matching_step(secret.decrypt(row.secret_sealed, _context(user_id)), code, now or utcnow())
    if step is None:
        raise FieldError("code", N_("That code does not match. Enter the code your app shows now."))
    row.confirmed_at, row.last_step = utcnow(), step
    await db.flush()
    await record_event(db, events.SECOND_FACTOR_ENABLED, user_id=user_id, detail={"kind": TOTP})
    return await new_recovery_codes(db, secret, user_id, event=False)


async def new_recovery_codes(
    db: AsyncSession, secret: ServerSecret, user_id: str, *, event: bool = True
) -> list[str]:
    """Ten new recovery codes (the old ones stop working), returned once."""
    await db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = []
    now = utcnow()
    for _ in range(RECOVERY_CODE_COUNT):
        text = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        codes.append(f"{text[:5]}-{text[5:]}")
        db.add(RecoveryCode(id=new_id(), user_id=user_id, digest=_digest(secret, text), created_at=now))
    await db.flush()
    if event:
        await record_event(db, events.RECOVERY_CODES_CREATED, user_id=user_id)
    return codes


async def disable(db: AsyncSession, user_id: str) -> None:
    """Turn two-step login off: the app's secret and the recovery codes are deleted."""
    await db.execute(delete(TotpFactor).where(TotpFactor.user_id == user_id))
    await db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    await record_event(db, events.SECOND_FACTOR_DISABLED, user_id=user_id)


# ---- checking codes ---------------------------------------------------------------------------


async def verify_totp(
    db: AsyncSession, secret: ServerSecret, user_id: str, code: str, *, now: datetime | None = None
) -> bool:
    """Whether ``code`` is a current code of the person's app that was not accepted before:
    the step is recorded by a conditional UPDATE, so of two uses of one code (or of an older
    one) only the first counts (RFC 6238 §5.2)."""
    row = await _totp_row(db, user_id)
    if row is None or row.confirmed_at is None:
        return False
    step = _matching_step(secret.decrypt(row.secret_sealed, _context(user_id)), code, now or utcnow())
    if step is None:
        return False
    result = await db.execute(
        update(TotpFactor)
        .where(
            TotpFactor.user_id == user_id,
            or_(TotpFactor.last_step.is_(None), TotpFactor.last_step < step),
        )
        .values(last_step=step)
    )
    return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]


async def use_recovery_code(db: AsyncSession, secret: ServerSecret, user_id: str, code: str) -> bool:
    """Whether ``code`` is one of the person's unused recovery codes; it is used up."""
    if len(normalize_recovery_code(code)) != 10:
        return False
    result = await db.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.digest == _digest(secret, code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )
    if int(result.rowcount or 0) != 1:  # type: ignore[attr-defined]
        return False
    await record_event(db, events.RECOVERY_CODE_USED, user_id=user_id)
    return True


async def verify(db: AsyncSession, secret: ServerSecret, user_id: str, kind: str, code: str) -> bool:
    """Check a code of the given kind (``totp`` or ``recovery``)."""
    if kind == TOTP:
        return await verify_totp(db, secret, user_id, code)
    if kind == RECOVERY:
        return await use_recovery_code(db, secret, user_id, code)
    return False


# ---- a space's requirement ---------------------------------------------------------------------


async def set_space_requirement(db: AsyncSession, space_id: str, required: bool, *, by: str) -> None:
    """Whether the space's admin pages need a second factor. Turning it on takes an admin who
    has one (else they would shut themselves out of the page that turns it off)."""
    if required and not await has_second_factor(db, by):
        raise FieldError(
            "require_admin_second_factor", N_("Turn on two-step login for your own account first.")
        )
    await db.execute(update(Space).where(Space.id == space_id).values(require_admin_second_factor=required))
