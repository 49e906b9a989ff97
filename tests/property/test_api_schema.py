"""Schemathesis over ``/openapi.json`` (the JSON endpoints; HTML pages are not in the schema).

Every operation is fuzzed in-process against the ASGI app (``schemathesis.openapi.from_asgi``)
on a space's host, with a bearer token that holds every public scope and belongs to an admin
of that space. Checks: no 5xx (``not_a_server_error``) and documented responses match their
schema (``response_schema_conformance``), for schema-conforming and non-conforming requests.
Bounded: 20 examples per operation.
"""

from __future__ import annotations

import warnings
from contextlib import AsyncExitStack
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi as schemathesis_asgi
from schemathesis.specs.openapi.checks import response_schema_conformance

from frontdesk.oauth.metadata import public_scopes
from frontdesk.oauth.models import NewToken
from frontdesk.security.randoms import ACCESS_TOKEN_PREFIX, new_secret
from frontdesk.services import signing_keys, spaces
from frontdesk.settings import Settings
from frontdesk.store.sql_storage import SqlStorage
from frontdesk.web.app import create_app
from tests.conftest import run_async
from tests.oauth_support import make_user, register_app
from tests.support import lifespan, make_settings

HOST = "co-up.localhost:8000"
OVERRIDES = {"api_rate_limit": "0", "dynamic_registration_rate_limit": "100000/hour"}
EXAMPLES = settings(
    max_examples=20,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def _operations() -> list[tuple[str, str]]:
    """(METHOD, path) of every operation in the served schema, read at collection time."""
    app = create_app(make_settings("sqlite:///never-opened.db"), check_schema=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FastAPI warns about duplicate operation ids
        paths = app.openapi()["paths"]
    return [(method.upper(), path) for path, ops in paths.items() for method in ops]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return OVERRIDES


async def seed(settings_: Settings) -> str:
    """An admin of ``co-up`` and a token of theirs with every public scope."""
    app = create_app(settings_)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(lifespan(app))
        state = app.state.frontdesk
        db = await stack.enter_async_context(state.db.session())
        # As `frontdesk db upgrade` leaves a deployment: a signing key (else /readyz says 503).
        await signing_keys.ensure_key(db, state.server_secret)
        admin = await make_user(state, db, "admin@example.com", name="Adam Admin")
        await spaces.create_space(db, state.settings, subdomain="co-up", name="Co-Up", owner=admin)
        await db.commit()
        scopes = " ".join(public_scopes())
        registered = await register_app(state, db, admin, scopes=scopes)
        raw = new_secret(ACCESS_TOKEN_PREFIX)
        storage = SqlStorage(db, state.server_secret)
        await storage.save_token(
            raw,
            NewToken(
                client_id=registered.client_id,
                user_id=admin.id,
                scopes=tuple(scopes.split()),
                grant_type="test",
            ),
        )
        await db.commit()
    return raw


def test_operation_ids_are_unique() -> None:
    """OpenAPI 3 wants one operationId per operation (client generators rely on it)."""
    app = create_app(make_settings("sqlite:///never-opened.db"), check_schema=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        paths = app.openapi()["paths"]
    ids = [op["operationId"] for ops in paths.values() for op in ops.values()]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


@pytest.mark.parametrize(("method", "path"), _operations(), ids=lambda value: str(value))
def test_api_schema(settings: Settings, method: str, path: str) -> None:
    token = run_async(lambda: seed(settings))
    app = create_app(settings)
    try:
        schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers={"host": HOST})
        operation = schema[path][method]
        headers = {"host": HOST, "authorization": f"Bearer {token}"}

        @EXAMPLES
        @given(
            case=operation.as_strategy(GenerationMode.POSITIVE)
            | operation.as_strategy(GenerationMode.NEGATIVE)
        )
        def fuzz(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error, response_schema_conformance])

        fuzz()
    finally:
        schemathesis_asgi.shutdown_lifespans()
