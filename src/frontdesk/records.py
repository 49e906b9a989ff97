"""Plain values the layers above the store work with, beside the protocol core's own
(:mod:`frontdesk.oauth.models`: ``Client``, ``Person``, ``TokenInfo`` …).

The store maps its rows (:mod:`frontdesk.store.models`) onto these; services, pages, the API
and the CLI never see a row. docs/architecture.md lists which name stands for what in each
layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from frontdesk.oauth.models import Person


@dataclass(frozen=True, slots=True)
class SpaceRef:
    """A space (tenant): reachable at ``<subdomain>.<base domain>`` and, when set, at its
    custom domain."""

    id: str
    subdomain: str
    name: str
    custom_domain: str | None = None
    owner_id: str = ""
    # The space's admin pages need a second factor (web/deps.py space_admin).
    require_admin_second_factor: bool = False


@dataclass(frozen=True, slots=True)
class MembershipRecord:
    """A person's membership of a space, with both sides."""

    id: str
    role: str  # "member" | "admin"
    # How an admin is named inside this space (Cobot's admin_of[].name).
    admin_name: str | None
    space: SpaceRef
    user: Person
    created_at: datetime | None = None
    # Cobot's fields: when the membership took effect (None: not yet confirmed) and its last
    # day once canceled (services/spaces.py confirm_membership, cancel_membership).
    confirmed_at: datetime | None = None
    canceled_to: date | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True, slots=True)
class NavigationLinkRecord:
    """A page an app adds to a space's navigation, shown in an iframe (Cobot API 1)."""

    id: str
    space_id: str
    app_id: str
    # "members", or an admin section: "admin/setup", "admin/manage", "admin/analyze".
    section: str
    label: str
    iframe_url: str
    user_editable: bool = True
    created_by: str | None = None


@dataclass(frozen=True, slots=True)
class NewSession:
    """A browser session to store (its id is the digest of the cookie's secret)."""

    id: str
    user_id: str
    host: str
    created_at: datetime
    expires_at: datetime
    user_agent: str = ""
    ip: str = ""
    # How the login was made (RFC 8176 values, oauth/amr.py), and whether it still waits for
    # a second factor (then the session is no login: web/routes/pages/second_factor.py).
    amr: tuple[str, ...] = ("pwd",)
    pending_factor: bool = False


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A stored browser session (see :mod:`frontdesk.web.sessions` for the cookie side)."""

    id: str
    user_id: str
    host: str
    created_at: datetime
    expires_at: datetime
    last_seen_at: datetime
    revoked_at: datetime | None = None
    # When the person last re-entered their password in this session (to reveal secrets).
    reauthenticated_at: datetime | None = None
    # Small server-side state (e.g. which app's credentials may be shown once).
    data: dict[str, Any] = field(default_factory=dict)
    # The public handle (the sessions page, the ID token's ``sid``): never the cookie's secret.
    public_id: str = ""
    # How the login was made (RFC 8176 values, oauth/amr.py); when its authentication
    # completed (the last factor, or a later step up; None: ``created_at``); and whether it
    # still waits for a second factor (then it is no login: :meth:`usable` is False).
    amr: tuple[str, ...] = ("pwd",)
    authenticated_at: datetime | None = None
    pending_factor: bool = False

    @property
    def auth_time(self) -> datetime:
        """OpenID Connect ``auth_time``: when this session's authentication completed."""
        return self.authenticated_at or self.created_at

    def usable(self, host: str, now: datetime) -> bool:
        live = self.revoked_at is None and self.expires_at > now and self.host == host
        return live and not self.pending_factor

    def awaiting_factor(self, host: str, now: datetime) -> bool:
        """A login that passed its password and waits for the second factor, here and now."""
        live = self.revoked_at is None and self.expires_at > now and self.host == host
        return live and self.pending_factor
