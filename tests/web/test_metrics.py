"""Prometheus metrics at /metrics (docs/metrics.md, reference README item 12): open in
development, behind FRONTDESK_METRICS_TOKEN in production, counting what real requests do,
with route templates and never token values in the exposition; the Grafana dashboard in
deploy/ uses only names the exposition has."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from frontdesk import metrics
from frontdesk.web.app import create_app
from tests.oauth_support import bearer, code_token, consent, query, register_app
from tests.support import Browser, lifespan, make_settings

DASHBOARD = Path(__file__).parents[2] / "deploy" / "grafana-frontdesk.json"
METRICS_TOKEN = "metrics-token-for-tests-0123456789"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples(text).items() if n == name and wanted <= set(ls))


async def scrape(b: Browser, **headers: str) -> str:
    response = await b.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return response.text


# ---- who may read them --------------------------------------------------------------------------


async def test_metrics_are_open_in_development(browser: Browser) -> None:
    text = await scrape(browser)
    assert "frontdesk_http_request_duration_seconds" in text


@pytest.fixture
async def production_app(database_url: str) -> Any:
    settings = make_settings(database_url, env="production", metrics_token=METRICS_TOKEN)
    application = create_app(settings)
    async with lifespan(application):
        yield application


async def test_production_metrics_need_the_token(production_app: Any) -> None:
    async with Browser(production_app, scheme="https") as b:
        assert (await b.get("/metrics")).status_code == 401
        wrong = await b.get("/metrics", headers=bearer(METRICS_TOKEN + "x"))
        assert wrong.status_code == 401
        assert wrong.headers["www-authenticate"].startswith("Bearer")
        basic = await b.get("/metrics", headers={"authorization": f"Basic {METRICS_TOKEN}"})
        assert basic.status_code == 401
        right = await b.get("/metrics", headers=bearer(METRICS_TOKEN))
        assert right.status_code == 200
        assert "frontdesk_tokens_issued_total" in right.text


async def test_production_without_a_token_configured_refuses_everyone(database_url: str) -> None:
    application = create_app(make_settings(database_url, env="production"))
    async with lifespan(application), Browser(application, scheme="https") as b:
        assert (await b.get("/metrics")).status_code == 401
        assert (await b.get("/metrics", headers=bearer(""))).status_code == 401


async def test_metrics_answer_only_get(browser: Browser) -> None:
    response = await browser.post("/metrics")
    assert response.status_code == 405


async def test_metrics_are_not_served_on_a_space_host(state: Any, db: Any, new_browser: Any) -> None:
    from frontdesk.services import spaces
    from tests.oauth_support import make_user

    owner = await make_user(state, db, "owner@example.com")
    await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=owner)
    await db.commit()
    space = new_browser("co-up.localhost:8000")
    assert (await space.get("/metrics")).status_code == 404


# ---- what they count ----------------------------------------------------------------------------


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"api_rate_limit": "3/minute"}


@pytest.fixture
async def flow(state: Any, db: Any, browser: Browser) -> tuple[Any, Browser]:
    from tests.oauth_support import make_user

    dev = await make_user(state, db, "dev@example.com")
    await make_user(state, db, "pat@example.com")
    registered = await register_app(state, db, dev)
    assert (await browser.login("pat@example.com")).status_code == 303
    return registered, browser


async def test_a_code_flow_counts_its_token_and_its_requests(flow: tuple[Any, Browser]) -> None:
    registered, b = flow
    before = await scrape(b)
    body = await code_token(b, registered)
    after = await scrape(b)

    issued = {"grant_type": "authorization_code", "host": "main"}
    assert (
        value(after, "frontdesk_tokens_issued_total", **issued)
        == value(before, "frontdesk_tokens_issued_total", **issued) + 1
    )
    assert value(after, "frontdesk_authorizations_total", outcome="approved") == (
        value(before, "frontdesk_authorizations_total", outcome="approved") + 1
    )
    token_requests = {"route": "/oauth/access_token", "method": "POST", "status": "200"}
    assert value(after, "frontdesk_http_request_duration_seconds_count", **token_requests) == (
        value(before, "frontdesk_http_request_duration_seconds_count", **token_requests) + 1
    )
    assert body["access_token"] not in after


async def test_a_denied_authorization_is_counted(flow: tuple[Any, Browser]) -> None:
    registered, b = flow
    before = await scrape(b)
    denied = await consent(b, registered, decision="deny")
    assert denied.status_code == 303
    assert query(denied.headers["location"])["error"] == "access_denied"
    after = await scrape(b)
    labels = {"outcome": "denied", "error": "access_denied"}
    assert value(after, "frontdesk_authorizations_total", **labels) == (
        value(before, "frontdesk_authorizations_total", **labels) + 1
    )


@pytest.mark.rfc("6749 4.1.2.1")
async def test_an_authorization_error_is_counted_by_its_code(flow: tuple[Any, Browser]) -> None:
    registered, b = flow
    before = await scrape(b)
    params = {
        "response_type": "code",
        "client_id": registered.client_id,
        "redirect_uri": registered.redirect_uri,
        "scope": "no_such_scope",
    }
    refused = await b.get("/oauth/authorize", params=params)
    assert refused.status_code == 302
    assert query(refused.headers["location"])["error"] == "invalid_scope"
    after = await scrape(b)
    labels = {"outcome": "error", "error": "invalid_scope"}
    assert value(after, "frontdesk_authorizations_total", **labels) == (
        value(before, "frontdesk_authorizations_total", **labels) + 1
    )


async def test_throttled_requests_and_cache_hits_are_counted(flow: tuple[Any, Browser]) -> None:
    registered, b = flow
    token = registered.test_token
    before = await scrape(b)
    statuses = [(await b.get("/api/user", headers=bearer(token))).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    after = await scrape(b)
    assert value(after, "frontdesk_throttled_requests_total", rule="api") == (
        value(before, "frontdesk_throttled_requests_total", rule="api") + 1
    )
    # The token was read from the cache on every request after the first.
    hits = {"kind": "tokens", "result": "hit"}
    assert (
        value(after, "frontdesk_cache_lookups_total", **hits)
        >= value(before, "frontdesk_cache_lookups_total", **hits) + 3
    )
    user = {"route": "/api/user", "method": "GET"}
    assert value(after, "frontdesk_http_request_duration_seconds_count", status="200", **user) == (
        value(before, "frontdesk_http_request_duration_seconds_count", status="200", **user) + 3
    )
    assert value(after, "frontdesk_http_request_duration_seconds_count", status="429", **user) == (
        value(before, "frontdesk_http_request_duration_seconds_count", status="429", **user) + 1
    )
    assert value(after, "frontdesk_db_pool_size") >= 1


async def test_labels_hold_route_templates_never_paths_or_tokens(flow: tuple[Any, Browser]) -> None:
    registered, b = flow
    token = registered.test_token
    assert (await b.get(f"/api/access_tokens/{token}", headers=bearer(token))).status_code == 200
    assert (await b.get("/no/such/page/secret-looking-value")).status_code == 404
    text = await scrape(b)
    assert token not in text
    assert "secret-looking-value" not in text
    assert (
        value(text, "frontdesk_http_request_duration_seconds_count", route="/api/access_tokens/{token}") >= 1
    )
    assert value(text, "frontdesk_http_request_duration_seconds_count", route="unmatched", status="404") >= 1
    routes = {
        ls["route"]
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
        for ls in [s.labels]
        if "route" in ls
    }
    assert all(r == "unmatched" or r.startswith("/") for r in routes)


async def test_outbox_depth_is_counted_when_scraped(browser: Browser) -> None:
    text = await scrape(browser)
    assert value(text, "frontdesk_outbox_pending", outbox="webhooks") == 0
    assert value(text, "frontdesk_outbox_pending", outbox="email") == 0


# ---- the dashboard -----------------------------------------------------------------------------


def dashboard_names() -> set[str]:
    board = json.loads(DASHBOARD.read_text())
    names: set[str] = set()
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            names |= set(re.findall(r"\bfrontdesk_[a-z_]+", target["expr"]))
    return names


async def test_the_dashboard_uses_only_exported_names(flow: tuple[Any, Browser]) -> None:
    registered, b = flow
    await code_token(b, registered)
    text = await scrape(b)
    exposed: set[str] = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M):
        suffixes = {"counter": ("", "_total"), "histogram": ("_bucket", "_count", "_sum")}.get(kind, ("",))
        exposed |= {name.removesuffix("_total") + suffix for suffix in suffixes}
    used = dashboard_names()
    assert used, "the dashboard has no frontdesk_ expressions"
    assert used <= exposed, used - exposed
    # Every metric Frontdesk exports has a panel.
    bases = {re.sub(r"_(bucket|count|sum)$", "", name) for name in used}
    assert set(metrics.NAMES) <= bases, set(metrics.NAMES) - bases


def test_tallied_timings_flush_as_histogram_observations() -> None:
    """metrics.Timings keeps request times in plain numbers and adds them to the histogram
    later: the exposition must be what Histogram.observe would have made."""
    from prometheus_client import CollectorRegistry, Histogram, generate_latest

    buckets = (0.01, 0.1, 1.0)
    registry_a, registry_b = CollectorRegistry(), CollectorRegistry()
    direct = Histogram("t", "t", ("route",), buckets=buckets, registry=registry_a)
    tallied = Histogram("t", "t", ("route",), buckets=buckets, registry=registry_b)
    timings = metrics.Timings(tallied, buckets)
    for seconds in (0.0, 0.01, 0.010001, 0.5, 1.0, 7.0, 0.05):
        direct.labels("/x").observe(seconds)
        timings.observe(("/x",), seconds)
    timings.flush()
    timings.flush()  # nothing twice

    def lines(registry: CollectorRegistry) -> list[str]:
        return [line for line in generate_latest(registry).decode().splitlines() if "_created" not in line]

    assert lines(registry_b) == lines(registry_a)


async def test_password_checks_are_timed(flow: tuple[Any, Browser], new_browser: Any) -> None:
    _registered, b = flow
    before = await scrape(b)
    other = new_browser()
    assert (await other.login("pat@example.com")).status_code == 303
    after = await scrape(b)
    assert value(after, "frontdesk_password_hash_seconds_count") == (
        value(before, "frontdesk_password_hash_seconds_count") + 1
    )
    assert value(after, "frontdesk_password_hash_queue_depth") == 0
