"""Issue 11 item 8: a custom domain is served only after a DNS TXT record proves ownership.

A real DNS server runs on 127.0.0.1 for these tests (dnspython builds its answers) and
FRONTDESK_DNS_RESOLVER points the server at it.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
from sqlalchemy import select

from frontdesk.services import spaces
from frontdesk.store.models import Space
from tests.support import Browser, make_settings

TXT = "_frontdesk-challenge.accounts.google.com"


class TinyDns:
    """Answers TXT queries from ``records`` (name → values); NXDOMAIN for other names; no
    answer at all while ``silent``."""

    def __init__(self) -> None:
        self.records: dict[str, list[str]] = {}
        self.silent = False
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            if self.silent:
                continue
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text(omit_final_dot=True).lower()
            if name not in self.records:
                response.set_rcode(dns.rcode.NXDOMAIN)
            elif question.rdtype == dns.rdatatype.TXT:
                values = [f'"{v}"' for v in self.records[name]]
                if values:
                    response.answer.append(dns.rrset.from_text(question.name, 60, "IN", "TXT", *values))
            self.sock.sendto(response.to_wire(), peer)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def tiny_dns() -> Iterator[TinyDns]:
    server = TinyDns()
    yield server
    server.close()


@pytest.fixture
def settings_overrides(tiny_dns: TinyDns) -> dict[str, Any]:
    return {"dns_resolver": f"127.0.0.1:{tiny_dns.port}", "dns_timeout_seconds": 1}


@pytest.fixture
async def admin(browser: Browser, new_browser: Any) -> Browser:
    await browser.signup("owner@example.com", name="Olivia Owner")
    created = await browser.submit(
        "/spaces/new", {"name": "Co-Up", "subdomain": "co-up", "custom_domain": ""}
    )
    assert created.status_code == 303
    b: Browser = new_browser("co-up.localhost:8000")
    assert (await b.login("owner@example.com")).status_code == 303
    return b


async def _served(browser: Browser, domain: str) -> int:
    return (await browser.get("/healthz/domain", params={"domain": domain})).status_code


async def _check(admin: Browser) -> str:
    response = await admin.submit("/admin/settings", {}, action="/admin/settings/domain")
    assert response.status_code == 303
    return (await admin.get("/admin/settings")).text


async def test_a_claimed_domain_is_not_served_until_its_txt_record_is_found(
    admin: Browser, browser: Browser, new_browser: Any, tiny_dns: TinyDns, db: Any
) -> None:
    saved = await admin.submit("/admin/settings", {"name": "Co-Up", "custom_domain": "accounts.google.com"})
    assert saved.status_code == 303
    # Neither served nor approved for a certificate.
    assert await _served(browser, "accounts.google.com") == 404
    assert (await new_browser("accounts.google.com").get("/")).status_code == 404

    page = (await admin.get("/admin/settings")).text
    assert "Waiting for verification" in page and f'id="txt-name">{TXT}<' in page
    token = (await db.execute(select(Space.domain_token))).scalar_one()
    value = f"frontdesk-verification={token}"
    assert f'id="txt-value">{value}<' in page

    # No record yet, then a wrong one, then DNS silent: each a clear status, never served.
    assert "does not exist in DNS yet" in await _check(admin)
    tiny_dns.records[TXT] = ["frontdesk-verification=someone-elses-token"]
    assert "none is “frontdesk-verification=" in await _check(admin)
    tiny_dns.silent = True
    assert "DNS did not answer" in await _check(admin)
    tiny_dns.silent = False
    tiny_dns.records[TXT] = []
    assert "has no TXT record yet" in await _check(admin)
    assert await _served(browser, "accounts.google.com") == 404

    tiny_dns.records[TXT] = ["v=spf1 -all", value]
    page = await _check(admin)
    assert "Verified: accounts.google.com now serves this space." in page
    assert 'id="verified-domain">accounts.google.com<' in page and "Waiting for verification" not in page
    assert await _served(browser, "accounts.google.com") == 200
    assert (await new_browser("accounts.google.com").get("/")).status_code == 200


async def test_another_space_cannot_take_a_verified_domain_and_a_pending_one_blocks_nobody(
    admin: Browser, browser: Browser, new_browser: Any, tiny_dns: TinyDns, db: Any
) -> None:
    assert (
        await admin.submit("/admin/settings", {"name": "Co-Up", "custom_domain": "members.example.org"})
    ).status_code == 303
    # Someone else asks for the same (still pending) domain: allowed, the DNS proof decides.
    other = await browser.submit(
        "/spaces/new", {"name": "Two", "subdomain": "two", "custom_domain": "members.example.org"}
    )
    assert other.status_code == 303
    tokens = dict((await db.execute(select(Space.subdomain, Space.domain_token))).all())
    assert tokens["co-up"] != tokens["two"]
    tiny_dns.records["_frontdesk-challenge.members.example.org"] = [
        f"frontdesk-verification={tokens['co-up']}"
    ]
    assert "Verified" in await _check(admin)
    two: Browser = new_browser("two.localhost:8000")
    assert (await two.login("owner@example.com")).status_code == 303
    # Even with its own record present, the domain is taken now.
    tiny_dns.records["_frontdesk-challenge.members.example.org"].append(
        f"frontdesk-verification={tokens['two']}"
    )
    assert "already used by another space" in await _check(two)
    assert (await browser.get("/healthz/domain", params={"domain": "members.example.org"})).json()[
        "origin"
    ] == ("http://members.example.org:8000")


async def test_a_new_domain_keeps_the_verified_one_served_until_it_is_verified(
    admin: Browser, browser: Browser, tiny_dns: TinyDns, db: Any
) -> None:
    await admin.submit("/admin/settings", {"name": "Co-Up", "custom_domain": "a.example.org"})
    token = (await db.execute(select(Space.domain_token))).scalar_one()
    tiny_dns.records["_frontdesk-challenge.a.example.org"] = [f"frontdesk-verification={token}"]
    assert "Verified" in await _check(admin)
    await admin.submit("/admin/settings", {"name": "Co-Up", "custom_domain": "b.example.org"})
    assert await _served(browser, "a.example.org") == 200
    assert await _served(browser, "b.example.org") == 404
    # Clearing stops serving at once.
    await admin.submit("/admin/settings", {"name": "Co-Up", "custom_domain": ""})
    assert await _served(browser, "a.example.org") == 404


async def test_development_skips_the_proof_for_test_and_localhost_names_only(
    admin: Browser, browser: Browser
) -> None:
    await admin.submit("/admin/settings", {"name": "Co-Up", "custom_domain": "members.co-up.test"})
    assert await _served(browser, "members.co-up.test") == 200
    await admin.submit("/admin/settings", {"name": "Co-Up", "custom_domain": "members.example.com"})
    assert await _served(browser, "members.example.com") == 404


async def test_production_never_skips_the_proof(
    tmp_path: Any, sqlite_template: Any, state: Any, db: Any
) -> None:
    """The same .test name in production waits for its record (service level: production
    settings, the test's database)."""
    from frontdesk.services import accounts

    production = make_settings(state.settings.database_url, env="production", public_url="https://fd.example")
    owner = await accounts.create_user(
        db, state.passwords, email="o@example.com", password="x" * 12, name="O"
    )
    space = await spaces.create_space(
        db, production, subdomain="prod", name="Prod", owner=owner, custom_domain="members.co-up.test"
    )
    assert space.custom_domain is None
    row = (await db.execute(select(Space).where(Space.subdomain == "prod"))).scalar_one()
    assert row.pending_domain == "members.co-up.test" and row.domain_token
