"""Custom domains: proof of ownership by a DNS TXT record before a domain is served.

An admin who sets a custom domain gets it *pending*: the space keeps (or creates) a random
verification token, and the domain is served (web/hosts.py) and approved for on-demand TLS
(``/healthz/domain``) only after a TXT record

    _frontdesk-challenge.<domain>  TXT  "frontdesk-verification=<token>"

was found by :func:`check_domain` ("Check now" on ``/admin/settings``). Development skips the
proof for ``*.test`` and ``*.localhost`` names (RFC 6761 §6.2, §6.3: they never resolve
publicly), and the operator's own commands (``frontdesk spaces create``, seed files) vouch
for the domains they set. Nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.errors import FieldError, NotFound
from frontdesk.i18n import N_, message
from frontdesk.security.randoms import new_id
from frontdesk.settings import Settings
from frontdesk.store.inserts import update_unless_taken
from frontdesk.store.models import Space

if TYPE_CHECKING:
    import dns.asyncresolver

TXT_LABEL = "_frontdesk-challenge"
TXT_PREFIX = "frontdesk-verification="
DEV_SUFFIXES = (".test", ".localhost")


@dataclass(frozen=True)
class DomainState:
    """What the settings page shows: the served domain, and one waiting for its TXT record."""

    verified: str | None
    pending: str | None
    record_name: str | None
    record_value: str | None


@dataclass(frozen=True)
class CheckResult:
    verified: bool
    message: str


def skips_verification(settings: Settings, domain: str) -> bool:
    """Development only, and only for names that cannot exist in public DNS."""
    return settings.env == "development" and domain.endswith(DEV_SUFFIXES)


def record_name(domain: str) -> str:
    return f"{TXT_LABEL}.{domain}"


def record_value(token: str) -> str:
    return f"{TXT_PREFIX}{token}"


def ask_for(space: Space, domain: str) -> None:
    """Make ``domain`` the space's pending domain (the served one stays until it is verified)."""
    space.pending_domain = domain
    if not space.domain_token:
        # Not a credential (anyone can read the TXT record), only unguessable per space.
        space.domain_token = new_id()


def state_of(space: Space) -> DomainState:
    pending, token = space.pending_domain, space.domain_token
    waiting = pending is not None and token is not None
    return DomainState(
        verified=space.custom_domain,
        pending=pending,
        record_name=record_name(pending) if waiting and pending else None,
        record_value=record_value(token) if waiting and token else None,
    )


async def domain_state(db: AsyncSession, space_id: str) -> DomainState:
    row = await db.get(Space, space_id)
    if row is None:
        raise NotFound("No such space.")
    return state_of(row)


def _resolver(settings: Settings) -> dns.asyncresolver.Resolver:
    # dnspython loads when a domain is checked, not with every worker (docs/performance.md,
    # "Memory").
    import dns.asyncresolver

    server = settings.dns_server  # parsed and checked with the settings (settings.py)
    if server is None:
        resolver = dns.asyncresolver.Resolver()
    else:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [server[0]]
        resolver.port = server[1]
    resolver.lifetime = settings.dns_timeout_seconds
    return resolver


async def _txt_values(settings: Settings, name: str) -> list[str]:
    answer = await _resolver(settings).resolve(name, "TXT", search=False)
    values: list[str] = []
    for rdata in answer:
        # A TXT record is one or more character-strings; together they are one value.
        values.append(b"".join(rdata.strings).decode("utf-8", "replace").strip())
    return values


def _failed(template: str, **values: str) -> CheckResult:
    """A check that did not verify, its message in the page's language when shown."""
    return CheckResult(False, message(template, **values))


async def check_domain(db: AsyncSession, settings: Settings, space_id: str) -> CheckResult:
    """Look up the pending domain's TXT record; when it carries this space's token, the domain
    becomes the served one. Never raises for DNS trouble: the result says what happened."""
    row = await db.get(Space, space_id)
    if row is None:
        raise NotFound("No such space.")
    domain, token = row.pending_domain, row.domain_token
    if not domain or not token:
        return _failed(N_("There is no custom domain waiting for verification."))
    name, expected = record_name(domain), record_value(token)
    import dns.exception
    import dns.resolver

    try:
        values = await _txt_values(settings, name)
    except dns.resolver.NXDOMAIN:
        return _failed(
            N_("{name} does not exist in DNS yet. Add the TXT record, then check again."), name=name
        )
    except dns.resolver.NoAnswer:
        return _failed(N_("{name} has no TXT record yet. Add it, then check again."), name=name)
    except dns.exception.Timeout:
        return _failed(N_("DNS did not answer for {name} in time. Try again in a minute."), name=name)
    except dns.exception.DNSException:
        return _failed(N_("DNS could not be asked about {name} right now. Try again in a minute."), name=name)
    if expected not in values:
        return _failed(
            N_("{name} has TXT records, but none is “{expected}”. DNS changes can take a while."),
            name=name,
            expected=expected,
        )
    await _make_verified(db, row, domain)
    return CheckResult(True, message(N_("Verified: {domain} now serves this space."), domain=domain))


async def _make_verified(db: AsyncSession, row: Space, domain: str) -> None:
    claim = update(Space).where(Space.id == row.id).values(custom_domain=domain, pending_domain=None)
    if not await update_unless_taken(db, claim):
        raise FieldError("custom_domain", N_("{domain} is already used by another space."), domain=domain)
    await db.refresh(row)
