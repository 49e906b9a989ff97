"""Request ids (web/request_id.py): on every response, from a trusted proxy only when sane,
on error pages, and in every log line of the request; JSON access lines (logs.py)."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from frontdesk.logs import JsonFormatter, RedactSecrets
from tests.oauth_support import TOKEN_URL, make_user, password_grant, register_app
from tests.support import Browser

GENERATED = re.compile(r"[0-9a-f]{32}")
PROXY = "203.0.113.5"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"trusted_proxies": ["203.0.113.0/24"], "log_format": "json"}


@pytest.fixture
def log_lines() -> Iterator[list[dict[str, Any]]]:
    """The JSON lines written to the frontdesk loggers during the test (configured as
    logs.uvicorn_log_config does: the redaction filter on the handler, the JSON formatter)."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(RedactSecrets())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("frontdesk")
    before = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    lines: list[dict[str, Any]] = []
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(before)


def _read(lines: list[dict[str, Any]]) -> None:
    stream = next(
        h.stream for h in logging.getLogger("frontdesk").handlers if isinstance(h.formatter, JsonFormatter)
    )
    lines[:] = [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_every_response_carries_a_generated_request_id(browser: Browser) -> None:
    first = await browser.get("/healthz")
    second = await browser.get("/healthz")
    assert GENERATED.fullmatch(first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_a_trusted_proxys_request_id_is_kept(new_browser: Any) -> None:
    proxy = new_browser(client_ip=PROXY)
    response = await proxy.get("/healthz", headers={"x-request-id": "lb-7f3a:01"})
    assert response.headers["x-request-id"] == "lb-7f3a:01"


async def test_a_request_id_from_anyone_else_is_replaced(browser: Browser) -> None:
    response = await browser.get("/healthz", headers={"x-request-id": "chosen-by-client"})
    assert GENERATED.fullmatch(response.headers["x-request-id"])


@pytest.mark.parametrize("value", ["a" * 129, "spaces are not allowed", "semi;colon", "<script>"])
async def test_an_insane_request_id_from_a_proxy_is_replaced(new_browser: Any, value: str) -> None:
    proxy = new_browser(client_ip=PROXY)
    response = await proxy.get("/healthz", headers={"x-request-id": value})
    assert GENERATED.fullmatch(response.headers["x-request-id"])


async def test_not_found_pages_show_the_reference(browser: Browser) -> None:
    response = await browser.get("/no-such-page")
    assert response.status_code == 404
    assert f"Reference: {response.headers['x-request-id']}" in response.text


async def test_unknown_hosts_get_a_request_id(new_browser: Any) -> None:
    response = await new_browser(host="nowhere.example").get("/")
    assert response.status_code == 404
    assert GENERATED.fullmatch(response.headers["x-request-id"])


async def test_too_large_bodies_get_a_request_id(browser: Browser) -> None:
    response = await browser.post(
        TOKEN_URL, content=b"a=" + b"x" * 70000, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413
    assert GENERATED.fullmatch(response.headers["x-request-id"])


async def test_too_large_request_heads_get_a_request_id(browser: Browser) -> None:
    response = await browser.get("/api/user", headers={"x-filler": "x" * 20000})
    assert response.status_code == 431
    assert GENERATED.fullmatch(response.headers["x-request-id"])


async def test_protocol_errors_keep_their_json_shape(browser: Browser) -> None:
    response = await browser.post(TOKEN_URL, data={"grant_type": "nonsense"})
    assert response.status_code == 400
    assert set(response.json()) <= {"error", "error_description", "error_uri"}
    assert GENERATED.fullmatch(response.headers["x-request-id"])


async def test_server_errors_get_a_request_id(app: Any) -> None:
    async def boom() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/test-boom", boom)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8000") as client:
        response = await client.get("/test-boom")
    assert response.status_code == 500
    assert f"Reference: {response.headers['x-request-id']}" in response.text


async def test_server_errors_of_the_api_are_json(app: Any) -> None:
    async def boom() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/api/test-boom", boom)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8000") as client:
        response = await client.get("/api/test-boom")
    assert response.status_code == 500
    assert response.json() == {"error": "server_error"}
    assert GENERATED.fullmatch(response.headers["x-request-id"])


async def test_every_log_line_of_a_request_carries_its_id(
    app: Any, browser: Browser, log_lines: list[dict[str, Any]]
) -> None:
    async def noisy() -> dict[str, str]:
        logging.getLogger("frontdesk.test").warning("something to look into")
        return {}

    app.add_api_route("/test-noisy", noisy)
    response = await browser.get("/test-noisy")
    _read(log_lines)
    rid = response.headers["x-request-id"]
    mine = [line for line in log_lines if line["request_id"] == rid]
    assert [line["logger"] for line in mine] == ["frontdesk.test", "frontdesk.access"]
    assert mine[0]["message"] == "something to look into"
    assert mine[0]["level"] == "warning"


async def test_access_lines_are_json_with_route_status_duration_and_client(
    state: Any, db: Any, browser: Browser, log_lines: list[dict[str, Any]]
) -> None:
    owner = await make_user(state, db, "pat@example.com")
    registered = await register_app(state, db, owner)
    token = (await password_grant(browser, registered)).json()["access_token"]
    response = await browser.get(f"/api/access_tokens/{token}", params={"access_token": token})
    assert response.status_code == 200
    _read(log_lines)
    line = next(line for line in log_lines if line.get("request_id") == response.headers["x-request-id"])
    assert line["logger"] == "frontdesk.access"
    assert line["method"] == "GET"
    assert line["route"] == "/api/access_tokens/{token}"
    assert line["status"] == response.status_code
    assert line["client"] == "198.51.100.7"
    assert isinstance(line["duration_ms"], float)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["time"])
    # The redaction of logs.py applies: neither the path's token nor the query's is written.
    assert line["path"] == "/api/access_tokens/fdat_[redacted]?access_token=[redacted]"
    assert not any(token in json.dumps(entry) for entry in log_lines)


async def test_the_reference_is_german_on_german_pages(browser: Browser) -> None:
    response = await browser.get("/no-such-page", headers={"accept-language": "de"})
    assert response.status_code == 404
    assert f"Referenz: {response.headers['x-request-id']}" in response.text
