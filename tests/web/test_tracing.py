"""OpenTelemetry tracing (frontdesk/tracing.py), on with ``FRONTDESK_TRACING=true``: spans
for requests and statements, named by route, and no token value anywhere in them (RFC 6750
§5.3)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from frontdesk import tracing
from tests.oauth_support import make_user, password_grant, register_app
from tests.support import Browser


@pytest.fixture
def exporter(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    # Asked to record every request header: the credential-bearing ones are still sanitized.
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST", ".*")
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    monkeypatch.setattr(tracing, "_provider", provider)
    yield memory


@pytest.fixture
def settings_overrides(exporter: InMemorySpanExporter) -> dict[str, Any]:
    return {"tracing": True}


def _texts(span: ReadableSpan) -> list[str]:
    """Every string a span carries: its name, attributes, events and their attributes."""
    texts = [span.name, str(span.status.description or "")]
    texts += [f"{k}={v}" for k, v in (span.attributes or {}).items()]
    for event in span.events:
        texts.append(event.name)
        texts += [f"{k}={v}" for k, v in (event.attributes or {}).items()]
    return texts


async def test_tracing_is_off_by_default() -> None:
    from tests.support import make_settings

    assert make_settings("sqlite:///unused.db").tracing is False


async def test_requests_and_queries_make_spans_without_token_values(
    state: Any, db: Any, browser: Browser, exporter: InMemorySpanExporter
) -> None:
    owner = await make_user(state, db, "pat@example.com")
    registered = await register_app(state, db, owner)
    granted = await password_grant(browser, registered)
    assert granted.status_code == 200
    token = granted.json()["access_token"]
    refresh = granted.json().get("refresh_token", token)
    by_query = await browser.get("/api/user", params={"access_token": token})
    assert by_query.status_code == 200
    by_header = await browser.get(
        "/api/user", headers={"authorization": f"Bearer {token}", "cookie": f"x={token}"}
    )
    assert by_header.status_code == 200
    inspected = await browser.get(f"/api/access_tokens/{token}")
    assert inspected.status_code == 200
    spans = exporter.get_finished_spans()

    servers = [s for s in spans if s.kind == SpanKind.SERVER]
    routes = {(s.attributes or {}).get("http.route") for s in servers}
    assert {"/oauth/access_token", "/api/user", "/api/access_tokens/{token}"} <= routes
    assert "GET /api/access_tokens/{token}" in {s.name for s in servers}
    statements = [s for s in spans if (s.attributes or {}).get("db.statement")]
    assert statements, [s.name for s in spans]
    headers = {k for s in servers for k in (s.attributes or {}) if k.startswith("http.request.header.")}
    assert "http.request.header.authorization" in headers  # recorded, as asked, but sanitized:
    secrets = [token, refresh, registered.client_secret or ""]
    leaked = [(s.name, t) for s in spans for t in _texts(s) if any(x and x in t for x in secrets)]
    assert leaked == []


async def test_the_request_span_is_the_parent_of_its_statements(
    state: Any, db: Any, browser: Browser, exporter: InMemorySpanExporter
) -> None:
    owner = await make_user(state, db, "pat@example.com")
    registered = await register_app(state, db, owner)
    token = (await password_grant(browser, registered)).json()["access_token"]
    exporter.clear()
    assert (await browser.get("/api/user", headers={"authorization": f"Bearer {token}"})).status_code == 200
    spans = exporter.get_finished_spans()
    server = next(s for s in spans if s.kind == SpanKind.SERVER)
    children = [s for s in spans if s.parent is not None and s.parent.span_id == server.context.span_id]
    assert all(s.context.trace_id == server.context.trace_id for s in children)


@pytest.mark.parametrize("settings_overrides", [{"tracing": False}])
async def test_no_spans_when_off_even_with_a_global_provider(
    state: Any, db: Any, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FastAPI (0.142 and later) traces every request itself once a global OpenTelemetry
    provider is set (for instance by ``opentelemetry-instrument``), with its own attributes
    and at a cost on every request; Frontdesk turns that off (web/app.py): tracing is off
    unless ``FRONTDESK_TRACING`` says otherwise, and on, its spans take the one path that
    sanitizes (the tests above)."""
    from opentelemetry import trace as otel_trace
    from opentelemetry.util._once import Once

    other = InMemorySpanExporter()
    global_provider = TracerProvider()
    global_provider.add_span_processor(SimpleSpanProcessor(other))
    # The global provider is set once per process: the test sets it and puts the unset one back.
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", None)
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER_SET_ONCE", Once())
    otel_trace.set_tracer_provider(global_provider)
    owner = await make_user(state, db, "pat@example.com")
    registered = await register_app(state, db, owner)
    token = (await password_grant(browser, registered)).json()["access_token"]
    assert (await browser.get("/api/user", params={"access_token": token})).status_code == 200
    assert other.get_finished_spans() == ()
