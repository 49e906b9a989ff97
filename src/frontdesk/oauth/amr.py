"""How a person logged in: authentication method references (RFC 8176) and the two
authentication context classes Frontdesk defines (OpenID Connect Core §2 ``acr``).

A login's methods are RFC 8176 §2 values: ``pwd`` (the password), ``otp`` (a code from an
authenticator app, or a recovery code), ``hwk`` (a passkey: proof of possession of a key
held by an authenticator), ``user`` (the authenticator verified the person: PIN or
biometrics; RFC 8176 §2 "user presence test" is the nearest value), and ``mfa`` once more
than one factor was used: a password and a code or passkey, or a passkey that verified its
user (possession and a PIN or fingerprint, docs/guide.md "Passkeys"). The
class reference (``acr``) says which of the two levels the login reached; an authorization
request may ask for one with ``acr_values`` (OpenID Connect Core §3.1.2.1).
"""

from __future__ import annotations

from collections.abc import Iterable

PASSWORD = "pwd"
ONE_TIME_CODE = "otp"
HARDWARE_KEY = "hwk"
USER_PRESENCE = "user"
MULTI_FACTOR = "mfa"

ACR_PASSWORD = "urn:frontdesk:acr:pwd"
ACR_MFA = "urn:frontdesk:acr:mfa"
ACR_VALUES_SUPPORTED = (ACR_PASSWORD, ACR_MFA)


def acr_of(amr: Iterable[str]) -> str:
    """The class a login with these methods reached."""
    return ACR_MFA if MULTI_FACTOR in set(amr) else ACR_PASSWORD


def requires_mfa(acr_values: str | None) -> bool:
    """Whether an authorization request's ``acr_values`` can only be met by a second factor:
    it names the multi-factor class and not the password one (a list is in order of
    preference, and any listed class would do; a request naming only ``mfa`` is treated as
    requiring it, docs/guide.md "Two factors")."""
    values = (acr_values or "").split()
    return ACR_MFA in values and ACR_PASSWORD not in values


def encode(amr: Iterable[str]) -> str:
    """Space-separated, as the rows keep it."""
    return " ".join(amr)


def decode(text: str | None) -> tuple[str, ...]:
    return tuple(text.split()) if text else ()
