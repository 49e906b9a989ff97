"""OpenTelemetry tracing, off unless ``FRONTDESK_TRACING=true`` (the ``tracing`` extra:
``pip install 'frontdesk[tracing]'``).

A span per HTTP request (opentelemetry-instrumentation-asgi) named by the route template,
and a span per SQL statement (opentelemetry-instrumentation-sqlalchemy), exported with the
OTLP/HTTP exporter as the standard ``OTEL_*`` variables say (``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_SERVICE_NAME``, ``OTEL_TRACES_SAMPLER``, …; ``OTEL_SDK_DISABLED=true`` turns it off
again). docs/deployment.md describes it.

No token reaches a span (RFC 6750 §5.3, RFC 9700 §4.3.2):

* the ASGI instrumentation sees a copy of the request with no query string and its path
  redacted by logs.py (``/api/access_tokens/fdat_[redacted]``); the application gets the
  request as received (:class:`_Conceal`, :class:`_Reveal`);
* ``Authorization``, ``Cookie``, ``Set-Cookie``, ``DPoP`` and ``Proxy-Authorization`` are
  always sanitized, whatever ``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_*`` asks to record;
* SQL spans carry the statement with its placeholders, never the parameter values (the
  instrumentation does not record them; SQLCommenter stays off).
"""

from __future__ import annotations

import os
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from frontdesk.logs import redact
from frontdesk.settings import ConfigurationError, Settings

# Headers that carry credentials: never recorded as span attributes.
SECRET_HEADERS = ("authorization", "proxy-authorization", "cookie", "set-cookie", "dpop")
_ORIGINAL = "frontdesk.tracing.original"
_provider: Any = None


def enabled(settings: Settings) -> bool:
    disabled = os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"
    return settings.tracing and not disabled


def make_provider() -> Any:
    """The process's tracer provider: the OTLP/HTTP exporter behind a batching processor."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create()  # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": "frontdesk"}))
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def provider() -> Any:
    global _provider
    if _provider is None:
        try:
            _provider = make_provider()
        except ImportError as exc:
            raise ConfigurationError(
                f"FRONTDESK_TRACING=true needs the tracing extra: pip install 'frontdesk[tracing]' ({exc})"
            ) from exc
    return _provider


def instrument_engine(engine: Any, tracer_provider: Any) -> None:
    """Spans for the statements of ``engine`` (an ``AsyncEngine``)."""
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.instrumentation.sqlalchemy.version import __version__
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.trace import get_tracer

    tracer = get_tracer("frontdesk.store", __version__, tracer_provider)
    usage = (
        NoOpMeterProvider().get_meter("frontdesk.store").create_up_down_counter("db.client.connections.usage")
    )
    EngineTracer(tracer, engine.sync_engine, usage, enable_commenter=False)  # type: ignore[no-untyped-call]


def instrument_app(app: ASGIApp, tracer_provider: Any) -> ASGIApp:
    """``app`` with a server span around each request."""
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    sanitize = [
        h.strip()
        for h in os.environ.get("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS", "").split(",")
        if h.strip()
    ]
    traced = OpenTelemetryMiddleware(
        _Reveal(app),
        tracer_provider=tracer_provider,
        exclude_spans=["receive", "send"],
        http_capture_headers_sanitize_fields=[*sanitize, *SECRET_HEADERS],
    )
    return _Conceal(traced)


class _Conceal:
    """Hands the instrumentation a request without query string and with a redacted path;
    :class:`_Reveal` puts the received values back before the application sees them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        original = {key: scope[key] for key in ("path", "raw_path", "query_string") if key in scope}
        path = redact(scope["path"])
        scope[_ORIGINAL] = original
        scope["path"] = path
        scope["raw_path"] = path.encode("utf-8")
        scope["query_string"] = b""
        await self.app(scope, receive, send)


class _Reveal:
    """Restores the request as received, then names the server span by its route template
    when the response starts (the router has matched by then; the span ends with the body)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        original = scope.pop(_ORIGINAL, None)
        if original is None:
            await self.app(scope, receive, send)
            return
        scope.pop("raw_path", None)
        scope.update(original)
        from opentelemetry import trace

        span = trace.get_current_span()

        async def send_naming_span(message: Message) -> None:
            if message["type"] == "http.response.start":
                route = getattr(scope.get("route"), "path", None)
                if isinstance(route, str):
                    span.set_attribute("http.route", route)
                    span.update_name(f"{scope.get('method', 'HTTP')} {route}")
            await send(message)

        await self.app(scope, receive, send_naming_span)
