"""The OpenAPI description of the endpoints FastAPI cannot introspect.

The protocol endpoints read their own bodies (``RawRoute`` and ``post_only`` in
web/routing.py, and the JSON endpoints that parse their body with web/bodies.py), so FastAPI
sees no parameters and no request body for them. This table describes what they take and
answer; :func:`frontdesk.web.openapi.install` merges it into the generated document. Nothing
here runs while a request is served.
"""

from __future__ import annotations

from typing import Any

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
OAUTH_ERROR = {"$ref": "#/components/schemas/OAuthError"}
API_ERROR = {"$ref": "#/components/schemas/ErrorOut"}

# RFC 6749 §5.2 (and RFC 7591 §3.2.2, RFC 6750 §3.1): what every protocol error looks like.
OAUTH_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An error answer (RFC 6749 §5.2).",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "string",
            "description": "The error code, e.g. invalid_request, invalid_client, invalid_grant, "
            "unauthorized_client, unsupported_grant_type, invalid_scope, invalid_target, "
            "invalid_client_metadata, invalid_redirect_uri.",
        },
        "error_description": {"type": "string", "description": "What was wrong, for the developer."},
        "error_uri": {"type": "string", "format": "uri"},
    },
}


def _string(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def error(
    description: str, schema: dict[str, Any] = OAUTH_ERROR, *, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {JSON: {"schema": schema}}}
    if headers:
        response["headers"] = {
            name: {"description": text, "schema": {"type": "string"}} for name, text in headers.items()
        }
    return response


TOO_LARGE = "Request body too large (FRONTDESK_MAX_BODY_BYTES): invalid_request"
RATE_LIMITED = "Too many attempts; wait as long as Retry-After says"
CLIENT_CREDENTIALS = {
    "client_id": _string("The app's client id (when not sent with HTTP Basic)."),
    "client_secret": _string("The app's secret (client_secret_post; or use HTTP Basic)."),
    # RFC 7523 §2.2 (private_key_jwt), for apps registered with keys instead of a secret.
    "client_assertion_type": _string(
        "private_key_jwt (RFC 7523 §2.2): urn:ietf:params:oauth:client-assertion-type:jwt-bearer.",
        enum=["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"],
    ),
    "client_assertion": _string(
        "private_key_jwt: a JWT the app signed with a registered key (PS256, ES256, ES384, RS256, "
        "EdDSA; never none or HS*): iss = sub = client_id, aud = this issuer (or, outside the FAPI "
        "2.0 profile, the token endpoint URL), exp, jti (single use), iat within 5 minutes."
    ),
}
CLIENT_ERRORS = {
    "400": error("invalid_request (a missing, repeated or unknown parameter)"),
    "401": error(
        "invalid_client: the client authentication failed",
        headers={"WWW-Authenticate": "Basic, when the client tried HTTP Basic"},
    ),
    "413": error(TOO_LARGE),
    "429": error(RATE_LIMITED, headers={"Retry-After": "Seconds to wait"}),
}
NO_STORE = {"Cache-Control": {"description": "no-store", "schema": {"type": "string"}}}

TOKEN_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["grant_type"],
    "properties": {
        "grant_type": _string(
            "authorization_code, password, refresh_token or client_credentials (when the app may), "
            "urn:ietf:params:oauth:grant-type:device_code, "
            "urn:ietf:params:oauth:grant-type:token-exchange (RFC 8693: a space token, or a "
            "narrower token, for an access token of this app)."
        ),
        "code": _string("authorization_code: the code from the redirect."),
        "redirect_uri": _string(
            "authorization_code: the redirect URI of the authorization request (may be left out, "
            "docs/decisions.md §7), or that URI with the code, state and iss this server appended "
            "to it (the callback URL as OmniAuth sends it; nothing else may differ, §8)."
        ),
        "code_verifier": _string("authorization_code: the PKCE verifier (RFC 7636)."),
        "username": _string("password: the person's email."),
        "password": _string("password: the person's password."),
        "refresh_token": _string("refresh_token: the refresh token."),
        "device_code": _string(
            "urn:ietf:params:oauth:grant-type:device_code (RFC 8628 §3.4): the device code from "
            "/oauth/device_authorization. Until the person decides: authorization_pending; polled "
            "sooner than the interval: slow_down (the interval grows by 5 s); then access_denied "
            "or expired_token (§3.5), all 400."
        ),
        "scope": _string(
            "Space-separated scopes (password, refresh_token, client_credentials; token exchange: "
            "a part of the subject token's, never more: invalid_scope)."
        ),
        "resource": _string(
            "RFC 8707: the one resource the token is for (a host's issuer URL or a configured "
            "resource); with a code, only the authorization request's; else invalid_target. "
            "Token exchange: a space's host names that space (a space token)."
        ),
        "subject_token": _string(
            "urn:ietf:params:oauth:grant-type:token-exchange (RFC 8693 §2.1): an access token "
            "issued to this app. Unknown, another app's, revoked, expired, or DPoP-bound without "
            "a DPoP proof of its key: invalid_request (§2.2.2)."
        ),
        "subject_token_type": _string(
            "Token exchange: urn:ietf:params:oauth:token-type:access_token (the only type accepted).",
            enum=["urn:ietf:params:oauth:token-type:access_token"],
        ),
        "actor_token": _string(
            "Token exchange (delegation, RFC 8693 §4.1): a live access token of this app naming who "
            "acts; the issued token carries it as its act claim."
        ),
        "actor_token_type": _string(
            "Token exchange: urn:ietf:params:oauth:token-type:access_token, with actor_token only.",
            enum=["urn:ietf:params:oauth:token-type:access_token"],
        ),
        "audience": _string(
            "Token exchange: a space's subdomain (a space token for it; only its admins), or an "
            "absolute URI taken as resource. One resource or audience per request; else "
            "invalid_target."
        ),
        "requested_token_type": _string(
            "Token exchange: urn:ietf:params:oauth:token-type:access_token (the only type issued).",
            enum=["urn:ietf:params:oauth:token-type:access_token"],
        ),
        **CLIENT_CREDENTIALS,
    },
}
TOKEN_RESPONSE: dict[str, Any] = {
    "type": "object",
    "required": ["access_token", "token_type", "scope"],
    "properties": {
        "access_token": {
            "type": "string",
            "description": "Opaque (fdat_…), or an RFC 9068 JWT (typ at+jwt) for apps with JWT "
            "access tokens.",
        },
        "token_type": {
            "type": "string",
            "enum": ["bearer", "DPoP"],
            "description": "DPoP when the request carried a valid DPoP proof: the token is bound to "
            "its key (RFC 9449 §5).",
        },
        "scope": _string("The granted scopes, space-separated."),
        "expires_in": {"type": "integer", "description": "Only for apps with expiring tokens."},
        "refresh_token": {"type": "string", "description": "Only for apps with expiring tokens."},
        "id_token": {"type": "string", "description": "With scope openid (OpenID Connect Core §3.1.3.3)."},
        "issued_token_type": _string(
            "Token exchange (RFC 8693 §2.2.1): urn:ietf:params:oauth:token-type:access_token."
        ),
    },
}
TOKEN_OPERATION: dict[str, Any] = {
    "description": "RFC 6749 §3.2. The app authenticates with HTTP Basic (client_secret_basic) or "
    "client_id and client_secret in the body; an app registered with keys sends a signed "
    "client_assertion instead (private_key_jwt, RFC 7523); public apps send client_id only, with PKCE. "
    "Parameters in the query string are accepted unless strict mode is on (docs/decisions.md §2).",
    "security": [{"clientBasic": []}, {}],
    "parameters": [
        {
            "name": "DPoP",
            "in": "header",
            "required": False,
            "description": "A DPoP proof (RFC 9449 §4): binds the tokens to its key (token_type "
            "DPoP). Required for apps that require DPoP; when server nonces are on, an answer "
            "use_dpop_nonce carries the nonce to put in the proof in its DPoP-Nonce header (§8).",
            "schema": {"type": "string"},
        }
    ],
    "requestBody": {"required": True, "content": {FORM: {"schema": TOKEN_REQUEST}}},
    "responses": {
        "200": {
            "description": "The token",
            "headers": NO_STORE,
            "content": {JSON: {"schema": TOKEN_RESPONSE}},
        },
        **{
            **CLIENT_ERRORS,
            "400": error(
                "invalid_request, invalid_grant (a bad, expired or used code, refresh token or "
                "password), unauthorized_client, unsupported_grant_type, invalid_scope or "
                "invalid_target (RFC 8707 resource; RFC 8693 resource or audience), "
                "invalid_dpop_proof or use_dpop_nonce (RFC 9449 §5, §8)"
            ),
        },
    },
}
TOKEN_PARAMETER = {
    "token": _string("The token."),
    "token_type_hint": _string(
        "access_token or refresh_token (a hint only).", enum=["access_token", "refresh_token"]
    ),
}

AUTHORIZE_PARAMETERS: list[dict[str, Any]] = [
    {"name": name, "in": "query", "required": required, "schema": _string(text)}
    for name, required, text in (
        ("response_type", False, "code (the only one); required unless request_uri is sent."),
        ("client_id", True, "The app's client id."),
        (
            "request_uri",
            False,
            "RFC 9126 §4: the request_uri /oauth/par returned; with client_id, the pushed request "
            "is used and every other parameter in the URL is ignored. Single use.",
        ),
        (
            "redirect_uri",
            False,
            "One of the app's registered redirect URIs (may be left out when it has one).",
        ),
        ("scope", False, "Space-separated scopes (default: the app's)."),
        ("state", False, "Returned unchanged with the answer."),
        ("code_challenge", False, "PKCE (RFC 7636); required for public apps."),
        ("code_challenge_method", False, "S256."),
        ("nonce", False, "Copied into the ID token."),
        ("prompt", False, "none, login or consent."),
        ("max_age", False, "Seconds since the last login, else log in again."),
        ("resource", False, "RFC 8707: the one resource the tokens are for (else invalid_target)."),
        ("dpop_jkt", False, "RFC 9449 §10: the thumbprint of the DPoP key the code must be redeemed with."),
    )
]

# (method, path) → the parts of the operation that FastAPI cannot see. Paths not registered
# with FastAPI's schema (the authorization endpoint is a page for people) get a whole operation.
# The body of the revocation and introspection endpoints (RFC 7009 §2.1, RFC 7662 §2.1).
TOKEN_FORM: dict[str, Any] = {
    "required": True,
    "content": {
        FORM: {
            "schema": {
                "type": "object",
                "required": ["token"],
                "properties": {**TOKEN_PARAMETER, **CLIENT_CREDENTIALS},
            }
        }
    },
}
# RFC 9126 §2.1: the authorization request's parameters plus the client's authentication.
PAR_FORM: dict[str, Any] = {
    "required": True,
    "content": {
        FORM: {
            "schema": {
                "type": "object",
                "properties": {
                    **{
                        p["name"]: p["schema"]
                        for p in AUTHORIZE_PARAMETERS
                        if p["name"] not in ("client_id", "request_uri")
                    },
                    **CLIENT_CREDENTIALS,
                    "request": _string(
                        "RFC 9101 request object: a JWT signed by the app (PS256, ES256, RS256 or EdDSA "
                        "with a key it registered), iss = client_id, aud = this issuer, exp; its claims "
                        "are the request's parameters and the other form parameters are ignored."
                    ),
                },
            }
        }
    },
}
OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/oauth/par"): {
        "description": "RFC 9126. The app (authenticated as at the token endpoint; a public app by "
        "client_id) pushes its authorization request, checked as the authorization endpoint would, "
        "and sends the person to /oauth/authorize?client_id=…&request_uri=… within expires_in "
        "seconds. Available to every app on every host; apps marked “PAR required” (and every app "
        "when FRONTDESK_REQUIRE_PAR is on) can start an authorization only this way. A DPoP "
        "header (RFC 9449 §10.1) binds the code to the proof's key.",
        "security": [{"clientBasic": []}, {}],
        "requestBody": PAR_FORM,
        "responses": {
            "201": {
                "description": "The request_uri to send the person with (RFC 9126 §2.2)",
                "headers": NO_STORE,
                "content": {
                    JSON: {
                        "schema": {
                            "type": "object",
                            "required": ["request_uri", "expires_in"],
                            "properties": {
                                "request_uri": _string("urn:ietf:params:oauth:request_uri:<random>"),
                                "expires_in": {"type": "integer", "description": "Seconds (60)."},
                            },
                        }
                    }
                },
            },
            **{
                **CLIENT_ERRORS,
                "400": error(
                    "invalid_request (also for a request_uri inside, an unregistered redirect_uri or "
                    "a missing PKCE challenge), invalid_scope, unsupported_response_type, "
                    "invalid_target, invalid_request_object (RFC 9126 §2.3) or invalid_dpop_proof / "
                    "use_dpop_nonce (RFC 9449 §10.1)"
                ),
                "405": error("invalid_request: use POST"),
            },
        },
    },
    ("post", "/oauth/access_token"): TOKEN_OPERATION,
    ("post", "/oauth/token"): TOKEN_OPERATION,
    ("post", "/oauth/device_authorization"): {
        "description": "RFC 8628 §3.1, on every host (on a space's host the tokens are that "
        "space's host's). A confidential app authenticates as at the token endpoint; a public app "
        "sends client_id. Show the user_code and verification_uri (or a QR code of "
        "verification_uri_complete: GET /device/qr?user_code=… gives one as SVG, format=png as "
        "PNG; GET /device/show?user_code=… a page with both), then poll the token endpoint with "
        "grant_type=urn:ietf:params:oauth:grant-type:device_code every interval seconds.",
        "security": [{"clientBasic": []}, {}],
        "requestBody": {
            "required": True,
            "content": {
                FORM: {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "scope": _string("Space-separated scopes (default: the app's)."),
                            **CLIENT_CREDENTIALS,
                        },
                    }
                }
            },
        },
        "responses": {
            "200": {
                "description": "The device's codes (RFC 8628 §3.2)",
                "headers": NO_STORE,
                "content": {
                    JSON: {
                        "schema": {
                            "type": "object",
                            "required": [
                                "device_code",
                                "user_code",
                                "verification_uri",
                                "expires_in",
                                "interval",
                            ],
                            "properties": {
                                "device_code": _string("Secret: the device polls with it (fddc_…)."),
                                "user_code": _string(
                                    "8 letters, dash-grouped (WDJB-MJHT), for the person to enter."
                                ),
                                "verification_uri": _string("This host's /device page."),
                                "verification_uri_complete": _string("/device with the user code in it."),
                                "expires_in": {
                                    "type": "integer",
                                    "description": "FRONTDESK_DEVICE_CODE_TTL_SECONDS (600).",
                                },
                                "interval": {
                                    "type": "integer",
                                    "description": "Seconds between polls "
                                    "(FRONTDESK_DEVICE_POLL_INTERVAL_SECONDS, 5).",
                                },
                            },
                        }
                    }
                },
            },
            **{**CLIENT_ERRORS, "400": error("invalid_request or invalid_scope")},
        },
    },
    ("post", "/oauth/revoke"): {
        "description": "RFC 7009. Revokes an access or refresh token of the authenticated app (and "
        "what was issued with it). Answers 200 for unknown tokens too (§2.2).",
        "security": [{"clientBasic": []}, {}],
        "requestBody": TOKEN_FORM,
        "responses": {"200": {"description": "Revoked (or unknown)", "headers": NO_STORE}, **CLIENT_ERRORS},
    },
    ("post", "/oauth/introspect"): {
        "description": "RFC 7662. An app may introspect its own tokens; a resource server "
        'allowed to introspect, any. Anything else is {"active": false}.',
        "security": [{"clientBasic": []}, {}],
        "requestBody": TOKEN_FORM,
        "responses": {
            "200": {
                "description": "The token's state (RFC 7662 §2.2)",
                "headers": NO_STORE,
                "content": {
                    JSON: {
                        "schema": {
                            "type": "object",
                            "required": ["active"],
                            "properties": {
                                "active": {"type": "boolean"},
                                "scope": {"type": "string"},
                                "client_id": {"type": "string"},
                                "sub": {"type": "string"},
                                "username": {"type": "string"},
                                "token_type": {
                                    "type": "string",
                                    "enum": ["bearer", "DPoP", "refresh_token"],
                                },
                                "cnf": {
                                    "type": "object",
                                    "description": "RFC 9449 §6.2: {jkt} of the key a DPoP-bound "
                                    "token is bound to.",
                                },
                                "iat": {"type": "integer"},
                                "exp": {"type": "integer"},
                                "iss": {"type": "string"},
                                "space": _string("The subdomain of a space token's space."),
                                "aud": _string("The resource the token was requested for (RFC 8707)."),
                                "act": {
                                    "type": "object",
                                    "description": "RFC 8693 §4.1: who acts for the subject (sub, "
                                    "client_id), prior actors nested as act.",
                                },
                            },
                        }
                    }
                },
            },
            **CLIENT_ERRORS,
        },
    },
    ("post", "/oauth/register"): {
        "description": "RFC 7591. Registers a public app (PKCE, no secret), or an app that "
        "authenticates with keys (private_key_jwt with jwks or jwks_uri; no secret either). Off when "
        "FRONTDESK_DYNAMIC_REGISTRATION=false (404).",
        "requestBody": {
            "required": True,
            "content": {
                JSON: {
                    "schema": {
                        "type": "object",
                        "required": ["redirect_uris"],
                        "properties": {
                            "redirect_uris": {"type": "array", "items": {"type": "string", "format": "uri"}},
                            "client_name": {"type": "string"},
                            "client_uri": {"type": "string", "format": "uri"},
                            "scope": _string("Space-separated scopes."),
                            "grant_types": {
                                "type": "array",
                                "items": {"type": "string", "enum": ["authorization_code", "refresh_token"]},
                            },
                            "response_types": {
                                "type": "array",
                                "items": {"type": "string", "enum": ["code"]},
                            },
                            "token_endpoint_auth_method": {
                                "type": "string",
                                "enum": ["none", "private_key_jwt"],
                                "description": "none (a public app, PKCE) or private_key_jwt (RFC "
                                "7523, with jwks or jwks_uri; no secret is issued). client_secret_jwt "
                                "is refused (invalid_client_metadata).",
                            },
                            "jwks": {
                                "type": "object",
                                "description": "The app's public signing keys as a JWK Set (RSA ≥2048, "
                                "EC P-256/P-384, Ed25519; no private keys).",
                            },
                            "jwks_uri": {
                                "type": "string",
                                "format": "uri",
                                "description": "Where the app publishes its JWK Set (instead of jwks).",
                            },
                            "require_pushed_authorization_requests": {
                                "type": "boolean",
                                "description": "RFC 9126 §6: only pushed authorization requests "
                                "(/oauth/par) for this client.",
                            },
                        },
                    }
                }
            },
        },
        "responses": {
            "201": {
                "description": "Registered: the client id and the registered metadata (§3.2.1)",
                "headers": NO_STORE,
                "content": {
                    JSON: {
                        "schema": {
                            "type": "object",
                            "required": ["client_id", "client_id_issued_at", "redirect_uris"],
                            "properties": {
                                "client_id": {"type": "string"},
                                "client_id_issued_at": {"type": "integer"},
                                "client_name": {"type": "string"},
                                "client_uri": {"type": "string"},
                                "redirect_uris": {"type": "array", "items": {"type": "string"}},
                                "grant_types": {"type": "array", "items": {"type": "string"}},
                                "response_types": {"type": "array", "items": {"type": "string"}},
                                "token_endpoint_auth_method": {"type": "string"},
                                "jwks": {"type": "object"},
                                "jwks_uri": {"type": "string"},
                                "require_pushed_authorization_requests": {"type": "boolean"},
                                "scope": {"type": "string"},
                            },
                        }
                    }
                },
            },
            "400": error("invalid_client_metadata or invalid_redirect_uri (RFC 7591 §3.2.2)"),
            "404": {"description": "Dynamic registration is switched off"},
            "413": error(TOO_LARGE),
            "429": error(RATE_LIMITED, headers={"Retry-After": "Seconds to wait"}),
        },
    },
    ("get", "/oauth/authorize"): {
        "tags": ["oauth"],
        "summary": "Authorization endpoint (RFC 6749 §4.1.1)",
        "description": "A page for people: the browser is sent here, not an API client. With "
        "the person logged in and consent on record, the browser goes back to the app at once.",
        "operationId": "authorize_oauth_authorize_get",
        "parameters": AUTHORIZE_PARAMETERS,
        "responses": {
            "200": {"description": "The consent page (HTML)", "content": {"text/html": {}}},
            "302": {
                "description": "Back to the app's redirect URI with code, state and iss, or with "
                "error (invalid_request, unauthorized_client, access_denied, "
                "unsupported_response_type, invalid_scope, login_required, consent_required). On "
                "the subdomain of a space with a verified custom domain: to the same path and "
                "query on that domain",
                "headers": {"Location": {"schema": {"type": "string"}}},
            },
            "303": {
                "description": "To this host's login page first",
                "headers": {"Location": {"schema": {"type": "string"}}},
            },
            "400": {
                "description": "An unknown client_id or a redirect_uri the app did not register: shown "
                "as a page, never redirected (RFC 9700 §4.11.2)",
                "content": {"text/html": {}},
            },
        },
    },
    ("get", "/oauth/logout"): {
        "tags": ["openid"],
        "summary": "End-session endpoint (OpenID Connect RP-Initiated Logout 1.0)",
        "description": "A page for people: the app sends the browser here to end the person's "
        "session on this host. With an id_token_hint naming the person signed in here the "
        "session ends at once; otherwise the person is asked first. Every app the session "
        "signed in to that registered a backchannel_logout_uri receives a logout token.",
        "operationId": "logout_oauth_logout_get",
        "parameters": [
            {"name": name, "in": "query", "required": False, "schema": _string(text)}
            for name, text in (
                ("id_token_hint", "An ID token this host issued to the app (an expired one is accepted)."),
                ("client_id", "The app's client id (needed without id_token_hint to redirect)."),
                ("post_logout_redirect_uri", "One of the app's registered post-logout redirect URIs."),
                ("state", "Returned unchanged to post_logout_redirect_uri."),
            )
        ],
        "responses": {
            "200": {
                "description": 'The confirmation page, or "You are signed out" (HTML)',
                "content": {"text/html": {}},
            },
            "303": {
                "description": "To the post_logout_redirect_uri (with state) once the session ended",
                "headers": {"Location": {"schema": {"type": "string"}}},
            },
            "400": {
                "description": "An invalid id_token_hint or a post_logout_redirect_uri the app did "
                "not register: shown as a page, never redirected",
                "content": {"text/html": {}},
            },
        },
    },
    ("post", "/api/userinfo"): {
        "requestBody": {
            "required": False,
            "content": {
                FORM: {
                    "schema": {
                        "type": "object",
                        "properties": {"access_token": _string("The token (or send it as a bearer).")},
                    }
                }
            },
        },
    },
    ("post", "/api/access_tokens/{token}/space"): {
        "requestBody": {
            "required": True,
            "content": {
                media: {
                    "schema": {
                        "type": "object",
                        "required": ["space_id"],
                        "properties": {"space_id": _string("The space's id or subdomain.")},
                    }
                }
                for media in (JSON, FORM)
            },
        },
    },
}
