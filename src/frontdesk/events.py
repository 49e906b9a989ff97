"""Security events of the audit log: their names, what people read for each, and the rule that
an event never holds a secret.

Every layer names events with these constants (the protocol core, the services, the pages);
every event is written by the one recorder, :func:`frontdesk.store.audit_storage.record_event`,
which calls :func:`check` first. ``detail`` holds only ids (token, code and client ids),
counts, scopes and grant types: never a token, code, client secret or password.
"""

from __future__ import annotations

from typing import Any, Final

from frontdesk.security.randoms import (
    ACCESS_TOKEN_PREFIX,
    CLIENT_SECRET_PREFIX,
    CODE_PREFIX,
    EMAIL_LINK_PREFIX,
    REFRESH_TOKEN_PREFIX,
    SESSION_PREFIX,
)

LOGIN_SUCCEEDED: Final = "login.succeeded"
LOGIN_FAILED: Final = "login.failed"
CONSENT_GRANTED: Final = "consent.granted"
CONSENT_REVOKED: Final = "consent.revoked"
TOKEN_ISSUED: Final = "token.issued"
TOKEN_REVOKED: Final = "token.revoked"
# Token exchange (RFC 8693, oauth/grants/token_exchange.py): detail holds the new token's id, the
# subject's (and actor's) token ids, the kind ("space" or "narrower"), the scope and audience.
TOKEN_EXCHANGED: Final = "token.exchanged"
REFRESH_TOKEN_REUSED: Final = "refresh_token.reused"
CODE_REPLAYED: Final = "code.replayed"
CLIENT_SECRET_REGENERATED: Final = "client_secret.regenerated"
TEST_TOKEN_CREATED: Final = "test_token.created"
TEST_TOKEN_REVOKED: Final = "test_token.revoked"
SPACE_TOKEN_REVOKED: Final = "space_token.revoked"
CLIENT_AUTH_FAILED: Final = "client_auth.failed"
USER_CREATED: Final = "user.created"
USER_UPDATED: Final = "user.updated"
USER_DELETED: Final = "user.deleted"
MEMBERSHIP_CREATED: Final = "membership.created"
MEMBERSHIP_CHANGED: Final = "membership.changed"
MEMBERSHIP_REMOVED: Final = "membership.removed"
APP_CREATED: Final = "app.created"
APP_DELETED: Final = "app.deleted"
WEBHOOK_ENDPOINT_DISABLED: Final = "webhook_endpoint.disabled"
# The wrong password that made the login throttle refuse further attempts (a lockout began).
ACCOUNT_LOCKED: Final = "account.locked"
# A change made through the admin API (web/admin_auth.py); detail: the action and the ids.
ADMIN_ACTION: Final = "admin.action"
USER_DISABLED: Final = "user.disabled"
# Email links (docs/guide.md, "Accounts"): details hold the link's purpose, never its token.
EMAIL_VERIFICATION_SENT: Final = "email_verification.sent"
EMAIL_VERIFIED: Final = "email.verified"
PASSWORD_RESET_SENT: Final = "password_reset.sent"
PASSWORD_RESET_USED: Final = "password_reset.used"
PASSWORD_CHANGED: Final = "password.changed"
# Changing the address (the account page): the link sent to the new address; the change itself
# is ``user.updated``. Invitations to a space (services/invitations.py); details hold ids and
# the role, never the token.
EMAIL_CHANGE_REQUESTED: Final = "email_change.requested"
INVITATION_SENT: Final = "invitation.sent"
INVITATION_REVOKED: Final = "invitation.revoked"
INVITATION_ACCEPTED: Final = "invitation.accepted"
# Second factors (services/second_factor.py); details name the kind ("totp", "recovery"),
# never a code or secret.
SECOND_FACTOR_ENABLED: Final = "second_factor.enabled"
SECOND_FACTOR_DISABLED: Final = "second_factor.disabled"
SECOND_FACTOR_FAILED: Final = "second_factor.failed"
RECOVERY_CODES_CREATED: Final = "recovery_codes.created"
RECOVERY_CODE_USED: Final = "recovery_code.used"
# Passkeys (services/passkeys.py); details hold the passkey's id, never key material.
PASSKEY_ADDED: Final = "passkey.added"
PASSKEY_REMOVED: Final = "passkey.removed"
PASSKEY_FAILED: Final = "passkey.failed"
# A passkey's signature counter went backwards (a cloned authenticator?): the login was refused.
PASSKEY_SIGN_COUNT_REGRESSED: Final = "passkey.sign_count_regressed"

# What people read on their activity page, for every event there is.
DESCRIPTIONS: Final[dict[str, str]] = {
    LOGIN_SUCCEEDED: "Logged in",
    LOGIN_FAILED: "Failed login attempt",
    CONSENT_GRANTED: "Allowed an app access",
    CONSENT_REVOKED: "Took back an app's access",
    TOKEN_ISSUED: "Access token issued",
    TOKEN_REVOKED: "Access token revoked",
    TOKEN_EXCHANGED: "An app exchanged an access token for another (a space token or a narrower one)",
    REFRESH_TOKEN_REUSED: "Refresh token used twice (every token of that grant was revoked)",
    CODE_REPLAYED: "Authorization code used twice (its tokens were revoked)",
    CLIENT_SECRET_REGENERATED: "Regenerated an app's client secret",
    TEST_TOKEN_CREATED: "Created a test token",
    TEST_TOKEN_REVOKED: "Revoked a test token",
    SPACE_TOKEN_REVOKED: "Revoked an app's space tokens",
    CLIENT_AUTH_FAILED: "An app failed to authenticate (wrong client secret)",
    USER_CREATED: "Account created",
    USER_UPDATED: "Account changed",
    USER_DELETED: "Account deleted",
    MEMBERSHIP_CREATED: "Joined a space",
    MEMBERSHIP_CHANGED: "Membership in a space changed (role, confirmed or canceled)",
    MEMBERSHIP_REMOVED: "Left a space (membership removed)",
    APP_CREATED: "Registered an app",
    APP_DELETED: "Deleted an app",
    WEBHOOK_ENDPOINT_DISABLED: "A webhook endpoint was disabled (its deliveries kept failing)",
    ACCOUNT_LOCKED: "Sign-in paused after repeated wrong passwords",
    ADMIN_ACTION: "An administrative app made a change through the admin API",
    USER_DISABLED: "Account disabled by an operator",
    EMAIL_VERIFICATION_SENT: "Verification email sent",
    EMAIL_VERIFIED: "Email address verified",
    PASSWORD_RESET_SENT: "Password reset link sent",
    PASSWORD_RESET_USED: "Password reset with an emailed link",
    PASSWORD_CHANGED: "Password changed",
    EMAIL_CHANGE_REQUESTED: "Asked to change the email address (a link was sent to the new one)",
    INVITATION_SENT: "Invited someone to a space by email",
    INVITATION_REVOKED: "Withdrew an invitation to a space",
    INVITATION_ACCEPTED: "Accepted an invitation to a space",
    SECOND_FACTOR_ENABLED: "Turned on two-step login (authenticator app)",
    SECOND_FACTOR_DISABLED: "Turned off two-step login",
    SECOND_FACTOR_FAILED: "Wrong second-factor code at login",
    RECOVERY_CODES_CREATED: "New recovery codes made (the old ones stopped working)",
    RECOVERY_CODE_USED: "Logged in with a recovery code",
    PASSKEY_ADDED: "Added a passkey",
    PASSKEY_REMOVED: "Removed a passkey",
    PASSKEY_FAILED: "A passkey could not be verified at login",
    PASSKEY_SIGN_COUNT_REGRESSED: "A passkey's signature counter went backwards (login refused)",
}
EVENTS: Final = tuple(DESCRIPTIONS)

# The webhook event type each audit event is delivered as (docs/integrating.md, "Webhooks");
# events not named here are never sent. store/audit_storage.record_event writes the outbox.
WEBHOOK_TYPES: Final[dict[str, str]] = {
    TOKEN_ISSUED: "token.issued",
    TOKEN_REVOKED: "token.revoked",
    SPACE_TOKEN_REVOKED: "token.revoked",
    TEST_TOKEN_REVOKED: "token.revoked",
    CONSENT_GRANTED: "consent.granted",
    CONSENT_REVOKED: "consent.revoked",
    USER_CREATED: "user.created",
    USER_UPDATED: "user.updated",
    USER_DELETED: "user.deleted",
    USER_DISABLED: "user.disabled",
    MEMBERSHIP_CREATED: "membership.created",
    MEMBERSHIP_CHANGED: "membership.changed",
    MEMBERSHIP_REMOVED: "membership.removed",
    APP_CREATED: "app.created",
    APP_DELETED: "app.deleted",
    CODE_REPLAYED: "security.code_replayed",
    REFRESH_TOKEN_REUSED: "security.refresh_token_reused",
    CLIENT_AUTH_FAILED: "security.client_auth_failed",
    LOGIN_FAILED: "security.login_failed",
    ACCOUNT_LOCKED: "security.lockout",
}
WEBHOOK_EVENT_TYPES: Final = tuple(sorted(set(WEBHOOK_TYPES.values())))

# Keys that would name a secret; ids of secrets are fine ("token_id", "code_id").
_SECRET_KEYS: Final = frozenset(
    {"access_token", "refresh_token", "token", "code", "client_secret", "secret", "password", "id_token"}
)
_SECRET_PREFIXES: Final = (
    ACCESS_TOKEN_PREFIX,
    REFRESH_TOKEN_PREFIX,
    CODE_PREFIX,
    CLIENT_SECRET_PREFIX,
    SESSION_PREFIX,
    EMAIL_LINK_PREFIX,
)


def looks_secret(value: str) -> bool:
    return value.startswith(_SECRET_PREFIXES)


def claimed(value: str) -> str:
    """A value a caller sent (a client id, say), fit for a detail: cut short, and withheld
    when it looks like a secret (someone sent their token or secret in the wrong field)."""
    return "[withheld: looks like a secret]" if looks_secret(value) else value[:64]


def check(event: str, detail: dict[str, Any] | None) -> None:
    """Refuse unknown event names and details that hold (or look like) a secret."""
    if event not in DESCRIPTIONS:
        raise ValueError(f"unknown audit event {event!r}; add it to frontdesk.events")
    if detail:
        _check_detail(detail)


def _check_detail(detail: dict[str, Any]) -> None:
    for key, value in detail.items():
        if key.lower() in _SECRET_KEYS:
            raise ValueError(f"audit detail must not hold a secret ({key!r}); record its id instead")
        if isinstance(value, str) and value.startswith(_SECRET_PREFIXES):
            raise ValueError(f"audit detail {key!r} looks like a secret; record its id instead")
        if isinstance(value, dict):
            _check_detail(value)
        if isinstance(value, list | tuple):
            for item in value:
                if isinstance(item, str) and item.startswith(_SECRET_PREFIXES):
                    raise ValueError(f"audit detail {key!r} holds a secret; record ids instead")
