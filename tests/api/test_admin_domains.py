"""Custom domains through the admin API: set one (it waits), then verify it by its DNS TXT
record (services/domains.py, the same check as the space's settings page). A real DNS server
answers on 127.0.0.1 (tests/web/test_custom_domains.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.admin_support import Operator, operator_fixture  # noqa: F401  (the operator fixture)
from tests.oauth_support import make_user
from tests.web.test_custom_domains import TinyDns, tiny_dns  # noqa: F401  (the DNS server fixture)

SPACES = "admin:spaces:read admin:spaces:write"


@pytest.fixture
def settings_overrides(tiny_dns: TinyDns) -> dict[str, Any]:  # noqa: F811
    return {"dns_resolver": f"127.0.0.1:{tiny_dns.port}", "dns_timeout_seconds": 1}


async def test_custom_domain_verified_through_the_api(
    operator: Operator,
    state: Any,
    db: Any,
    tiny_dns: TinyDns,  # noqa: F811
) -> None:
    owner = await make_user(state, db, "owner@example.com", "Owner")
    b = operator.browser
    headers = await operator.headers(SPACES)
    made = await b.post(
        "/api/admin/spaces",
        json={
            "subdomain": "quay",
            "name": "Quay",
            "owner_id": owner.id,
            "custom_domain": "members.quay.example",
        },
        headers=headers,
    )
    assert made.status_code == 201, made.text
    domain = made.json()["domain"]
    name, value = domain["record_name"], domain["record_value"]
    assert name == "_frontdesk-challenge.members.quay.example"

    missing = await b.post("/api/admin/spaces/quay/domain/check", json={}, headers=headers)
    assert missing.status_code == 200, missing.text
    assert missing.json()["verified"] is False
    assert "does not exist in DNS yet" in missing.json()["message"]
    assert missing.json()["space"]["custom_domain"] is None
    assert (await b.get("/healthz/domain", params={"domain": "members.quay.example"})).status_code == 404

    tiny_dns.records[name] = [value]
    # Naming another domain than the pending one checks nothing.
    other = await b.post(
        "/api/admin/spaces/quay/domain/check", json={"domain": "elsewhere.example"}, headers=headers
    )
    assert other.status_code == 409
    checked = await b.post(
        "/api/admin/spaces/quay/domain/check", json={"domain": "Members.Quay.Example"}, headers=headers
    )
    assert checked.status_code == 200, checked.text
    assert checked.json()["verified"] is True
    space = checked.json()["space"]
    assert space["custom_domain"] == "members.quay.example"
    assert space["domain"]["pending"] is None
    assert space["url"] == "http://members.quay.example:8000"
    assert (await b.get("/healthz/domain", params={"domain": "members.quay.example"})).status_code == 200
    # Nothing is pending any more; reading needs no write scope, checking does.
    again = await b.post("/api/admin/spaces/quay/domain/check", json={}, headers=headers)
    assert again.json()["verified"] is False
    reader = await operator.headers("admin:spaces:read")
    assert (await b.post("/api/admin/spaces/quay/domain/check", json={}, headers=reader)).status_code == 403
    assert (
        await b.post("/api/admin/spaces/nowhere/domain/check", json={}, headers=headers)
    ).status_code == 404
