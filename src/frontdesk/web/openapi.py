"""The OpenAPI description of the JSON API (served at /openapi.json, rendered at /docs)."""

from __future__ import annotations

import warnings
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from frontdesk.web import openapi_protocol as protocol

PUBLIC = {"/api/spaces/{subdomain}", "/healthz", "/healthz/domain", "/readyz"}
ERROR = {"$ref": "#/components/schemas/ErrorOut"}
# CommonMark, as OpenAPI descriptions are; /docs renders it (web/routes/pages/api_docs.py).
DESCRIPTION = (
    "The JSON API of Frontdesk (Cobot API 1 shapes) and its OAuth endpoints. Send the access token as "
    "`Authorization: Bearer <token>` (or the `access_token` parameter). Errors are "
    '`{"error": code, "error_description": text}` (RFC 6749 §5.2); 401 and 403 answers carry an '
    "RFC 6750 `WWW-Authenticate: Bearer` challenge, 429 answers a `Retry-After`, and a body over "
    "the size limit is answered 413. A token bound to a key (DPoP, RFC 9449: `token_type` `DPoP`) "
    "is sent as `Authorization: DPoP <token>` with a proof in the `DPoP` header; its errors carry "
    "a `WWW-Authenticate: DPoP` challenge naming the accepted `algs`. The authorization "
    "endpoint, `/oauth/authorize`, is where an app sends the person's browser, not a call for "
    "programs.\n\n"
    "SCIM 2.0 (RFC 7643, RFC 7644) for identity providers is served at `/scim/v2` on the main "
    "host (tag `scim`): users are accounts and groups are spaces. It describes itself, as SCIM "
    "does, at `/scim/v2/ServiceProviderConfig`, `/scim/v2/ResourceTypes` and `/scim/v2/Schemas`; "
    "send a client_credentials token holding the scope `scim`."
)
# The SCIM endpoint (web/routes/scim.py) is a mount scim2-server routes itself: named here.
TAGS = [
    {
        "name": "scim",
        "description": "SCIM 2.0 at /scim/v2: /Users, /Groups (spaces), /ServiceProviderConfig, "
        "/ResourceTypes, /Schemas (RFC 7644 §3, §4). Errors are SCIM error bodies (RFC 7644 §3.12).",
        "externalDocs": {"url": "https://www.rfc-editor.org/rfc/rfc7644", "description": "RFC 7644"},
    }
]


def unique_id(route: APIRoute) -> str:
    return f"{route.name}_{route.path_format.strip('/').replace('/', '_').replace('{', '').replace('}', '')}"


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        with warnings.catch_warnings():
            # A route with several methods gets one id; each operation is renamed below.
            warnings.simplefilter("ignore", UserWarning)
            schema = get_openapi(
                title=app.title, version=app.version, description=DESCRIPTION, routes=app.routes
            )
        schema.setdefault("tags", []).extend(TAGS)
        components = schema.setdefault("components", {})
        components.setdefault("securitySchemes", {})["bearer"] = {
            "type": "http",
            "scheme": "bearer",
            "description": "An access token issued by this server",
        }
        # RFC 9449 §7.1: a token bound to a key, with a proof in the DPoP header.
        components["securitySchemes"]["dpop"] = {
            "type": "http",
            "scheme": "DPoP",
            "description": "A DPoP-bound access token (RFC 9449): `Authorization: DPoP <token>` with "
            "a proof of the token's key in the `DPoP` header (htm, htu, iat, jti, ath)",
        }
        components["securitySchemes"]["clientBasic"] = {
            "type": "http",
            "scheme": "basic",
            "description": "The app's client id and secret (client_secret_basic, RFC 6749 §2.3.1)",
        }
        components.setdefault("schemas", {})["OAuthError"] = protocol.OAUTH_ERROR_SCHEMA
        paths = schema.setdefault("paths", {})
        for (method, path), extra in protocol.OPERATIONS.items():
            operation = paths.setdefault(path, {}).setdefault(method, {})
            for key, value in extra.items():
                if key == "responses":
                    # What the table says replaces FastAPI's guess (a bare 200 for raw routes).
                    operation[key] = dict(value)
                else:
                    operation[key] = value
        components.setdefault("schemas", {}).setdefault(
            "ErrorOut",
            {
                "type": "object",
                "required": ["error"],
                "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
            },
        )
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                operation["operationId"] = f"{operation.get('operationId', path)}_{method}"
                responses = operation.setdefault("responses", {})
                # Validation errors are answered as 400 invalid_request, never FastAPI's 422
                # (web/errors.py); only navigation links answer 422 for a bad field.
                if "422" in responses and "navigation_links" not in path:
                    del responses["422"]
                if path.startswith("/api/") and path not in PUBLIC:
                    operation["security"] = [{"bearer": []}, {"dpop": []}]
                    for code, text in (
                        ("400", "Malformed request"),
                        ("401", "Missing or invalid token"),
                        ("403", "Token lacks the scope or the role"),
                        ("429", "Rate limited"),
                    ):
                        responses.setdefault(
                            code, {"description": text, "content": {"application/json": {"schema": ERROR}}}
                        )
                if path.startswith(("/api/", "/oauth/")) and "requestBody" in operation:
                    # web/limits.py caps every protocol and API body.
                    responses.setdefault("413", protocol.error(protocol.TOO_LARGE, ERROR))
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
