"""The protocol core driven without HTTP, on every storage: the authorization endpoint
(:class:`AuthorizationEndpoint`), the token endpoint with its three grants, client
authentication and bearer validation.

Each call runs in one unit of work, ended as the web adapter ends it
(:mod:`frontdesk.web.adapter`): committed on success; on an :class:`OAuthError`, committed
when the error says ``persist`` and rolled back otherwise. What a later call sees therefore
shows whether an error's writes were kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from frontdesk import events
from frontdesk.composition import OAuthServer, Rules
from frontdesk.oauth import pkce
from frontdesk.oauth.authorize import (
    Decision,
    LoginReason,
    NeedConsent,
    NeedLogin,
    Outcome,
    RedirectToClient,
    ShowError,
    Viewer,
)
from frontdesk.oauth.bearer import MissingToken, challenge
from frontdesk.oauth.errors import (
    InsufficientScope,
    InvalidClient,
    InvalidGrant,
    InvalidScope,
    InvalidToken,
    OAuthError,
    UnauthorizedClient,
)
from frontdesk.oauth.models import Person
from frontdesk.oauth.request import OAuthRequest
from frontdesk.oauth.storage import TokenGrant
from frontdesk.oauth.tokens import IssueRequest
from frontdesk.security.server_secret import ServerSecret
from frontdesk.services.throttle import Throttle, make_storage
from tests.core.conftest import CALLBACK, ISSUER, SCOPES, Backend, Clock, Core, Registered
from tests.support import PASSWORD, make_settings

IP = "203.0.113.5"
TTL = 3600  # seconds: an app that opted in to expiring tokens and refresh tokens
VERIFIER = "a-code-verifier-of-at-least-43-characters-0123456789"


@dataclass
class People:
    dev: Person  # owns the apps
    pat: Person  # uses them
    olga: Person  # owns a space


@pytest.fixture
async def people(backend: Backend) -> People:
    return People(
        await backend.add_person("dev@example.com", "Dana Developer"),
        await backend.add_person("pat@example.com", "Pat Person"),
        await backend.add_person("olga@example.com", "Olga Owner"),
    )


@pytest.fixture
async def app(backend: Backend, people: People) -> Registered:
    return await backend.add_client(people.dev)


@pytest.fixture
async def expiring_app(backend: Backend, people: People) -> Registered:
    return await backend.add_client(people.dev, access_token_ttl=TTL)


# ---- running the endpoints in a unit of work ----------------------------------------------------


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


def authorization_request(app: Registered, **params: str) -> OAuthRequest:
    values = {"response_type": "code", "client_id": app.client_id, "redirect_uri": CALLBACK, "state": "xyz"}
    values.update(params)
    return OAuthRequest("GET", query=tuple(values.items()), issuer=ISSUER, client_ip=IP)


def logged_in(person: Person, clock: Clock) -> Viewer:
    return Viewer(user_id=person.id, auth_time=clock() - timedelta(minutes=1))


def answer(choice: str, purpose: str) -> Decision:
    """The consent form as sent by the person's own page (its proof holds for ``purpose``)."""
    return Decision(choice, proof=lambda wanted: wanted == purpose)


async def authorize(
    core: Core,
    backend: Backend,
    request: OAuthRequest,
    viewer: Viewer | None,
    decision: Decision | None = None,
) -> Outcome:
    outcome = await core.authorization.handle(request, viewer, backend.storage, decision)
    await backend.commit()
    return outcome


async def get_code(
    core: Core, backend: Backend, app: Registered, person: Person, clock: Clock, **params: str
) -> str:
    """Authorize (approving on the consent page when asked) and return the code."""
    request = authorization_request(app, **params)
    viewer = logged_in(person, clock)
    outcome = await authorize(core, backend, request, viewer)
    if isinstance(outcome, NeedConsent):
        outcome = await authorize(core, backend, request, viewer, answer("approve", outcome.purpose))
    assert isinstance(outcome, RedirectToClient), outcome
    return query_of(outcome.url)["code"]


def token_request(app: Registered | None, **form: str) -> OAuthRequest:
    """A token request authenticating ``app`` with client_secret_post (RFC 6749 §2.3.1)."""
    pairs: dict[str, str] = {}
    if app is not None:
        pairs["client_id"] = app.client_id
        if app.secret is not None:
            pairs["client_secret"] = app.secret
    pairs.update(form)
    return OAuthRequest("POST", form=tuple(pairs.items()), issuer=ISSUER, client_ip=IP)


class PasswordStub:
    """The core's PasswordAuthenticator for one person."""

    def __init__(self, person: Person) -> None:
        self.person = person

    async def __call__(self, email: str, password: str) -> Person | None:
        return self.person if (email, password) == (self.person.email, PASSWORD) else None


async def token(
    core: Core, backend: Backend, request: OAuthRequest, password_auth: PasswordStub | None = None
) -> dict[str, Any]:
    """The token endpoint in a unit of work, committed as the web adapter commits it."""
    try:
        response = await core.token.handle(request, backend.storage, password_auth=password_auth)
    except OAuthError as exc:
        if exc.persist:
            await backend.commit()
        else:
            await backend.rollback()
        raise
    await backend.commit()
    return response.body


def redeem(app: Registered, code: str, **extra: str) -> OAuthRequest:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, **extra}
    return token_request(app, **form)


def refresh(app: Registered, refresh_token: str, **extra: str) -> OAuthRequest:
    return token_request(app, grant_type="refresh_token", refresh_token=refresh_token, **extra)


async def is_revoked(backend: Backend, raw: str) -> bool:
    info = await backend.storage.lookup_token(raw)
    assert info is not None
    return info.revoked


async def logged(backend: Backend, event: str) -> int:
    return sum(1 for e in await backend.events() if e.event == event)


# ---- the authorization endpoint ---------------------------------------------------------------


@pytest.mark.rfc("6749 4.1.2.1")
async def test_an_unknown_client_gets_an_error_page(core: Core, backend: Backend, app: Registered) -> None:
    request = OAuthRequest("GET", query=(("response_type", "code"), ("client_id", "nobody")), issuer=ISSUER)
    outcome = await authorize(core, backend, request, None)
    assert isinstance(outcome, ShowError)
    assert outcome.status == 400


@pytest.mark.rfc("9700 4.11.2")
async def test_an_unregistered_redirect_uri_gets_an_error_page(
    core: Core, backend: Backend, app: Registered, people: People, clock: Clock
) -> None:
    request = authorization_request(app, redirect_uri="https://evil.example/cb")
    outcome = await authorize(core, backend, request, logged_in(people.pat, clock))
    assert isinstance(outcome, ShowError)


@pytest.mark.rfc("6749 4.1.1")
async def test_nobody_logged_in_is_sent_to_log_in(core: Core, backend: Backend, app: Registered) -> None:
    outcome = await authorize(core, backend, authorization_request(app), None)
    assert isinstance(outcome, NeedLogin)
    assert outcome.reason is LoginReason.NOT_LOGGED_IN
    assert outcome.return_to.startswith("/oauth/authorize?")


@pytest.mark.rfc("OIDC Core 3.1.2.6")
async def test_prompt_none_without_a_login_answers_login_required(
    core: Core, backend: Backend, app: Registered
) -> None:
    outcome = await authorize(core, backend, authorization_request(app, prompt="none"), None)
    assert isinstance(outcome, RedirectToClient)
    assert query_of(outcome.url) == {
        "error": "login_required",
        "error_description": "nobody is logged in",
        "state": "xyz",
        "iss": ISSUER,
    }


@pytest.mark.rfc("6749 4.1.1")
async def test_a_new_grant_needs_consent_and_stores_nothing_yet(
    core: Core, backend: Backend, app: Registered, people: People, clock: Clock
) -> None:
    outcome = await authorize(core, backend, authorization_request(app), logged_in(people.pat, clock))
    assert isinstance(outcome, NeedConsent)
    assert outcome.request.scopes == tuple(SCOPES.split())
    assert await backend.storage.granted_scopes(people.pat.id, app.client_id, None) == frozenset()


@pytest.mark.rfc("6749 4.1.2")
async def test_approving_issues_a_code_and_remembers_consent(
    core: Core, backend: Backend, app: Registered, people: People, clock: Clock
) -> None:
    request = authorization_request(app)
    viewer = logged_in(people.pat, clock)
    asked = await authorize(core, backend, request, viewer)
    assert isinstance(asked, NeedConsent)
    outcome = await authorize(core, backend, request, viewer, answer("approve", asked.purpose))
    assert isinstance(outcome, RedirectToClient)
    assert outcome.status == 303
    params = query_of(outcome.url)
    assert outcome.url.startswith(CALLBACK + "?")
    assert (params["state"], params["iss"]) == ("xyz", ISSUER)
    assert params["code"].startswith("fdac_")
    assert await backend.storage.granted_scopes(people.pat.id, app.client_id, None) == set(SCOPES.split())
    assert await logged(backend, events.CONSENT_GRANTED) == 1


@pytest.mark.rfc("6819 5.2.4.1")
async def test_consent_on_record_gives_a_code_without_asking(
    core: Core, backend: Backend, app: Registered, people: People, clock: Clock
) -> None:
    await backend.storage.remember_consent(people.pat.id, app.client_id, None, tuple(SCOPES.split()))
    await backend.commit()
    outcome = await authorize(core, backend, authorization_request(app), logged_in(people.pat, clock))
    assert isinstance(outcome, RedirectToClient)
    assert outcome.status == 302
    assert "code" in query_of(outcome.url)
    assert await logged(backend, events.CONSENT_GRANTED) == 0


@pytest.mark.rfc("6749 4.1.2.1")
async def test_denying_sends_access_denied_and_remembers_nothing(
    core: Core, backend: Backend, app: Registered, people: People, clock: Clock
) -> None:
    request = authorization_request(app)
    viewer = logged_in(people.pat, clock)
    asked = await authorize(core, backend, request, viewer)
    assert isinstance(asked, NeedConsent)
    outcome = await authorize(core, backend, request, viewer, answer("deny", asked.purpose))
    assert isinstance(outcome, RedirectToClient)
    assert query_of(outcome.url)["error"] == "access_denied"
    assert await backend.storage.granted_scopes(people.pat.id, app.client_id, None) == frozenset()


@pytest.mark.rfc("6749 10.12")
async def test_a_consent_form_without_valid_proof_is_refused(
    core: Core, backend: Backend, app: Registered, people: People, clock: Clock
) -> None:
    request = authorization_request(app)
    forged = Decision("approve", proof=lambda purpose: False)
    outcome = await authorize(core, backend, request, logged_in(people.pat, clock), forged)
    assert isinstance(outcome, ShowError)
    assert outcome.status == 403
    assert await backend.storage.granted_scopes(people.pat.id, app.client_id, None) == frozenset()


@pytest.mark.rfc("OIDC Core 3.1.2.6")
async def test_prompt_none_when_consent_is_needed_answers_consent_required(
    core: Core, backend: Backend, app: Registered, people: People, clock: Clock
) -> None:
    request = authorization_request(app, prompt="none")
    outcome = await authorize(core, backend, request, logged_in(people.pat, clock))
    assert isinstance(outcome, RedirectToClient)
    assert query_of(outcome.url)["error"] == "consent_required"


# ---- the authorization code grant ---------------------------------------------------------------


@pytest.mark.rfc("6749 4.1.3")
async def test_a_code_is_exchanged_for_a_token(
    core: Core, backend: Backend, app: Registered, people: People, clock: Clock
) -> None:
    code = await get_code(core, backend, app, people.pat, clock)
    body = await token(core, backend, redeem(app, code))
    assert set(body) == {"access_token", "token_type", "scope"}
    assert (body["token_type"], body["scope"]) == ("bearer", SCOPES)
    info = await backend.storage.lookup_token(body["access_token"])
    assert info is not None
    assert (info.user_id, info.client_id, info.grant_type) == (
        people.pat.id,
        app.client_id,
        "authorization_code",
    )
    assert await logged(backend, events.TOKEN_ISSUED) == 1


@pytest.mark.rfc("6749 4.1.2")
async def test_a_replayed_code_revokes_its_token_and_that_is_committed(
    core: Core, backend: Backend, app: Registered, people: People, clock: Clock
) -> None:
    code = await get_code(core, backend, app, people.pat, clock)
    body = await token(core, backend, redeem(app, code))
    with pytest.raises(InvalidGrant) as replay:
        await token(core, backend, redeem(app, code))
    assert replay.value.persist is True
    assert await is_revoked(backend, body["access_token"]) is True
    assert await logged(backend, events.CODE_REPLAYED) == 1


@pytest.mark.rfc("6749 10.5")
async def test_a_replayed_code_revokes_the_refresh_family_and_what_was_refreshed_since(
    core: Core, backend: Backend, expiring_app: Registered, people: People, clock: Clock
) -> None:
    code = await get_code(core, backend, expiring_app, people.pat, clock)
    first = await token(core, backend, redeem(expiring_app, code))
    second = await token(core, backend, refresh(expiring_app, first["refresh_token"]))
    with pytest.raises(InvalidGrant, match="already used; its tokens are revoked"):
        await token(core, backend, redeem(expiring_app, code))
    # Presented once more, it has nothing left to revoke, and says only that.
    with pytest.raises(InvalidGrant, match=r"^this authorization code was already presented$"):
        await token(core, backend, redeem(expiring_app, code))
    assert await is_revoked(backend, first["access_token"]) is True
    assert await is_revoked(backend, second["access_token"]) is True
    with pytest.raises(InvalidGrant, match="revoked"):
        await token(core, backend, refresh(expiring_app, second["refresh_token"]))


@pytest.mark.rfc("6749 4.1.3")
async def test_a_wrong_redirect_uri_burns_the_code(
    core: Core, backend: Backend, app: Registered, people: People, clock: Clock
) -> None:
    code = await get_code(core, backend, app, people.pat, clock)
    with pytest.raises(InvalidGrant, match="redirect_uri") as wrong:
        await token(core, backend, redeem(app, code, redirect_uri=CALLBACK + "/other"))
    assert wrong.value.persist is True
    # Burned, and the next exchange says so truthfully: no tokens were issued to revoke.
    with pytest.raises(InvalidGrant, match=r"^this authorization code was already presented$"):
        await token(core, backend, redeem(app, code))


@pytest.mark.rfc("7636 4.6")
async def test_pkce_verifier_is_checked_and_a_wrong_one_burns_the_code(
    core: Core, backend: Backend, people: People, clock: Clock
) -> None:
    public = await backend.add_client(people.dev, public=True)
    challenge_params = {"code_challenge": pkce.s256(VERIFIER), "code_challenge_method": "S256"}
    code = await get_code(core, backend, public, people.pat, clock, **challenge_params)
    body = await token(core, backend, redeem(public, code, code_verifier=VERIFIER))
    assert body["token_type"] == "bearer"

    code = await get_code(core, backend, public, people.pat, clock, **challenge_params)
    with pytest.raises(InvalidGrant, match="code_verifier") as wrong:
        await token(core, backend, redeem(public, code, code_verifier=VERIFIER[::-1]))
    assert wrong.value.persist is True
    with pytest.raises(InvalidGrant, match=r"^this authorization code was already presented$"):
        await token(core, backend, redeem(public, code, code_verifier=VERIFIER))


@pytest.mark.rfc("7636 4.4.1")
async def test_a_public_client_must_send_a_code_challenge(
    core: Core, backend: Backend, people: People, clock: Clock
) -> None:
    public = await backend.add_client(people.dev, public=True)
    outcome = await authorize(core, backend, authorization_request(public), logged_in(people.pat, clock))
    assert isinstance(outcome, RedirectToClient)
    assert query_of(outcome.url)["error"] == "invalid_request"


@pytest.mark.rfc("6749 4.1.2")
async def test_an_expired_code_is_refused(
    core: Core, backend: Backend, app: Registered, people: People, clock: Clock
) -> None:
    code = await get_code(core, backend, app, people.pat, clock)
    clock.advance(seconds=core.config.code_ttl_seconds)
    with pytest.raises(InvalidGrant, match="expired"):
        await token(core, backend, redeem(app, code))


@pytest.mark.rfc("6749 4.1.3")
async def test_another_clients_code_is_refused_and_burned(
    core: Core, backend: Backend, app: Registered, people: People, clock: Clock
) -> None:
    thief = await backend.add_client(people.dev)
    code = await get_code(core, backend, app, people.pat, clock)
    with pytest.raises(InvalidGrant, match="another client"):
        await token(core, backend, redeem(thief, code))
    with pytest.raises(InvalidGrant, match=r"^this authorization code was already presented$"):
        await token(core, backend, redeem(app, code))


@pytest.mark.rfc("OIDC Core 3.1.3.3")
async def test_openid_adds_a_signed_id_token(
    core: Core, backend: Backend, people: People, clock: Clock
) -> None:
    oidc_app = await backend.add_client(people.dev, scopes="openid email profile")
    code = await get_code(core, backend, oidc_app, people.pat, clock, nonce="n-0S6")
    body = await token(core, backend, redeem(oidc_app, code))
    key = await backend.storage.signing_key()
    public = RSAKey.import_key(key.private_key.as_dict(private=False))
    decoded = jwt.decode(body["id_token"], public)
    assert decoded.header["kid"] == key.kid
    claims = decoded.claims
    assert (claims["iss"], claims["aud"], claims["sub"]) == (ISSUER, oidc_app.client_id, people.pat.id)
    assert (claims["nonce"], claims["email"], claims["name"]) == ("n-0S6", "pat@example.com", "Pat Person")
    assert claims["auth_time"] == int((clock() - timedelta(minutes=1)).timestamp())


# ---- the password grant -----------------------------------------------------------------------


@pytest.mark.rfc("6749 4.3.2")
async def test_the_password_grant_issues_a_token_for_the_person(
    core: Core, backend: Backend, app: Registered, people: People
) -> None:
    request = token_request(app, grant_type="password", username="pat@example.com", password=PASSWORD)
    body = await token(core, backend, request, PasswordStub(people.pat))
    info = await backend.storage.lookup_token(body["access_token"])
    assert info is not None
    assert (info.user_id, info.grant_type) == (people.pat.id, "password")


@pytest.mark.rfc("6749 5.2")
async def test_a_wrong_password_is_invalid_grant_and_nothing_is_kept(
    core: Core, backend: Backend, app: Registered, people: People
) -> None:
    request = token_request(app, grant_type="password", username="pat@example.com", password="wrong")
    with pytest.raises(InvalidGrant) as failed:
        await token(core, backend, request, PasswordStub(people.pat))
    assert failed.value.persist is False
    assert await logged(backend, events.TOKEN_ISSUED) == 0


@pytest.mark.rfc("9700 2.4")
async def test_a_public_client_may_not_use_the_password_grant(
    core: Core, backend: Backend, people: People
) -> None:
    public = await backend.add_client(people.dev, public=True)
    request = token_request(public, grant_type="password", username="pat@example.com", password=PASSWORD)
    with pytest.raises(UnauthorizedClient):
        await token(core, backend, request, PasswordStub(people.pat))


@pytest.mark.rfc("6749 6")
async def test_the_password_grant_starts_a_refresh_family_for_expiring_apps(
    core: Core, backend: Backend, expiring_app: Registered, people: People
) -> None:
    request = token_request(
        expiring_app, grant_type="password", username="pat@example.com", password=PASSWORD
    )
    body = await token(core, backend, request, PasswordStub(people.pat))
    assert body["expires_in"] == TTL
    refreshed = await token(core, backend, refresh(expiring_app, body["refresh_token"]))
    info = await backend.storage.lookup_token(refreshed["access_token"])
    assert info is not None
    assert info.grant_type == "refresh_token"


# ---- the refresh token grant ------------------------------------------------------------------


async def first_tokens(
    core: Core, backend: Backend, app: Registered, person: Person, clock: Clock
) -> dict[str, Any]:
    return await token(core, backend, redeem(app, await get_code(core, backend, app, person, clock)))


@pytest.mark.rfc("6749 6")
async def test_refreshing_rotates_the_refresh_token(
    core: Core, backend: Backend, expiring_app: Registered, people: People, clock: Clock
) -> None:
    first = await first_tokens(core, backend, expiring_app, people.pat, clock)
    second = await token(core, backend, refresh(expiring_app, first["refresh_token"]))
    assert second["refresh_token"] != first["refresh_token"]
    assert (second["expires_in"], second["scope"]) == (TTL, SCOPES)
    old = await backend.storage.find_refresh_token(first["refresh_token"])
    assert old is not None
    assert old.rotated_at == clock()
    new_access = await backend.storage.lookup_token(second["access_token"])
    first_access = await backend.storage.lookup_token(first["access_token"])
    assert new_access is not None and first_access is not None
    assert new_access.family_id == first_access.family_id


@pytest.mark.rfc("9700 4.14.2")
async def test_a_reused_refresh_token_revokes_its_family(
    core: Core, backend: Backend, expiring_app: Registered, people: People, clock: Clock
) -> None:
    first = await first_tokens(core, backend, expiring_app, people.pat, clock)
    second = await token(core, backend, refresh(expiring_app, first["refresh_token"]))
    clock.advance(seconds=11)  # past the grace window
    with pytest.raises(InvalidGrant, match="already used") as reuse:
        await token(core, backend, refresh(expiring_app, first["refresh_token"]))
    assert reuse.value.persist is True
    assert await is_revoked(backend, first["access_token"]) is True
    assert await is_revoked(backend, second["access_token"]) is True
    successor = await backend.storage.find_refresh_token(second["refresh_token"])
    assert successor is not None and successor.revoked_at is not None
    assert await logged(backend, events.REFRESH_TOKEN_REUSED) == 1


@pytest.mark.rfc("9700 4.14.2")
async def test_a_reuse_within_the_grace_window_revokes_nothing(
    core: Core, backend: Backend, expiring_app: Registered, people: People, clock: Clock
) -> None:
    first = await first_tokens(core, backend, expiring_app, people.pat, clock)
    second = await token(core, backend, refresh(expiring_app, first["refresh_token"]))
    with pytest.raises(InvalidGrant, match="just used") as early:
        await token(core, backend, refresh(expiring_app, first["refresh_token"]))
    assert early.value.persist is False
    assert await is_revoked(backend, second["access_token"]) is False
    third = await token(core, backend, refresh(expiring_app, second["refresh_token"]))
    assert third["token_type"] == "bearer"


@pytest.mark.rfc("6749 6")
async def test_a_refresh_asking_for_more_scope_fails_and_keeps_the_token(
    core: Core, backend: Backend, expiring_app: Registered, people: People, clock: Clock
) -> None:
    first = await first_tokens(core, backend, expiring_app, people.pat, clock)
    with pytest.raises(InvalidScope) as beyond:
        await token(core, backend, refresh(expiring_app, first["refresh_token"], scope="read_user write"))
    assert beyond.value.persist is False
    # Rolled back: the token was not burned by the bad request.
    second = await token(core, backend, refresh(expiring_app, first["refresh_token"]))
    assert second["scope"] == SCOPES


@pytest.mark.rfc("6749 6")
async def test_a_refresh_may_narrow_the_access_token_but_not_the_grant(
    core: Core, backend: Backend, expiring_app: Registered, people: People, clock: Clock
) -> None:
    first = await first_tokens(core, backend, expiring_app, people.pat, clock)
    narrow = await token(core, backend, refresh(expiring_app, first["refresh_token"], scope="read_user"))
    assert narrow["scope"] == "read_user"
    wide = await token(core, backend, refresh(expiring_app, narrow["refresh_token"], scope=SCOPES))
    assert wide["scope"] == SCOPES


@pytest.mark.rfc("6749 6")
async def test_another_clients_refresh_token_is_refused_and_left_alone(
    core: Core, backend: Backend, expiring_app: Registered, people: People, clock: Clock
) -> None:
    other = await backend.add_client(people.dev, access_token_ttl=TTL)
    first = await first_tokens(core, backend, expiring_app, people.pat, clock)
    with pytest.raises(InvalidGrant, match="another client"):
        await token(core, backend, refresh(other, first["refresh_token"]))
    assert await is_revoked(backend, first["access_token"]) is False
    second = await token(core, backend, refresh(expiring_app, first["refresh_token"]))
    assert second["token_type"] == "bearer"


@pytest.mark.rfc("6749 6")
async def test_a_refresh_token_past_its_familys_end_is_refused(
    core: Core, backend: Backend, expiring_app: Registered, people: People, clock: Clock
) -> None:
    first = await first_tokens(core, backend, expiring_app, people.pat, clock)
    clock.advance(days=31)
    with pytest.raises(InvalidGrant, match="expired"):
        await token(core, backend, refresh(expiring_app, first["refresh_token"]))


# ---- client authentication --------------------------------------------------------------------


@pytest.mark.rfc("6749 2.3.1")
async def test_a_wrong_client_secret_fails_and_its_audit_event_is_kept(
    core: Core, backend: Backend, app: Registered, people: People
) -> None:
    request = OAuthRequest(
        "POST",
        form=(("grant_type", "password"), ("client_id", app.client_id), ("client_secret", "fdcs_wrong")),
        issuer=ISSUER,
        client_ip=IP,
    )
    with pytest.raises(InvalidClient) as failed:
        await token(core, backend, request, PasswordStub(people.pat))
    assert failed.value.status_code == 401
    assert failed.value.persist is True
    [event] = [e for e in await backend.events() if e.event == events.CLIENT_AUTH_FAILED]
    assert (event.app_id, event.ip, event.detail) == (app.client_id, IP, {"client_id": app.client_id})


@pytest.mark.rfc("6749 5.2")
async def test_an_unknown_client_fails_like_a_wrong_secret(
    core: Core, backend: Backend, app: Registered
) -> None:
    request = OAuthRequest(
        "POST",
        form=(("grant_type", "authorization_code"), ("client_id", "nobody"), ("client_secret", "fdcs_x")),
        issuer=ISSUER,
        client_ip=IP,
    )
    with pytest.raises(InvalidClient) as failed:
        await token(core, backend, request)
    assert failed.value.persist is True
    [event] = [e for e in await backend.events() if e.event == events.CLIENT_AUTH_FAILED]
    assert (event.app_id, event.detail) == (None, {"client_id": "nobody"})


# ---- bearer tokens ----------------------------------------------------------------------------


@pytest.mark.rfc("6750 3.1")
async def test_no_token_is_a_challenge_without_an_error_code(core: Core, backend: Backend) -> None:
    with pytest.raises(MissingToken) as missing:
        await core.bearer.authenticate(None, backend.storage)
    assert challenge("api", missing.value) == 'Bearer realm="api"'


@pytest.mark.rfc("6750 3.1")
async def test_an_unknown_token_is_invalid(core: Core, backend: Backend) -> None:
    with pytest.raises(InvalidToken, match="not valid"):
        await core.bearer.authenticate("fdat_unknown", backend.storage)


@pytest.mark.rfc("6750 3.1")
async def test_a_revoked_token_is_invalid(
    core: Core, backend: Backend, app: Registered, people: People, clock: Clock
) -> None:
    body = await first_tokens(core, backend, app, people.pat, clock)
    info = await backend.storage.lookup_token(body["access_token"])
    assert info is not None
    await backend.storage.revoke_grant(TokenGrant(info.id))  # as RFC 7009 revocation does
    await backend.commit()
    with pytest.raises(InvalidToken, match="revoked"):
        await core.bearer.authenticate(body["access_token"], backend.storage)


@pytest.mark.rfc("6750 3.1")
async def test_an_expired_token_is_invalid(
    core: Core, backend: Backend, expiring_app: Registered, people: People, clock: Clock
) -> None:
    body = await first_tokens(core, backend, expiring_app, people.pat, clock)
    bearer = await core.bearer.authenticate(body["access_token"], backend.storage)
    assert bearer.person.id == people.pat.id
    clock.advance(seconds=TTL)
    with pytest.raises(InvalidToken, match="expired"):
        await core.bearer.authenticate(body["access_token"], backend.storage)


@pytest.mark.rfc("6750 3.1")
async def test_a_token_without_the_scope_is_insufficient(
    core: Core, backend: Backend, app: Registered, people: People, clock: Clock
) -> None:
    body = await first_tokens(core, backend, app, people.pat, clock)
    bearer = await core.bearer.authenticate(body["access_token"], backend.storage, "read_user")
    assert bearer.person.id == people.pat.id
    with pytest.raises(InsufficientScope) as insufficient:
        await core.bearer.authenticate(body["access_token"], backend.storage, "write_memberships")
    assert insufficient.value.status_code == 403
    assert insufficient.value.scope == "write_memberships"


async def test_a_space_token_acts_for_its_admin_creator_then_for_the_owner(
    core: Core, backend: Backend, app: Registered, people: People, clock: Clock
) -> None:
    space_id = await backend.add_space(people.olga, "olgas")
    await backend.set_role(space_id, people.pat, "admin")
    user_token = await first_tokens(core, backend, app, people.pat, clock)
    parent = await backend.storage.lookup_token(user_token["access_token"])
    assert parent is not None
    # As services.space_tokens trades a user token for a space token.
    issued = await core.issuer.issue(
        backend.storage,
        IssueRequest(
            client=app.client,
            user_id=people.pat.id,
            scopes=parent.scopes,
            grant_type="space",
            space_id=space_id,
            parent_id=parent.id,
            issuer=ISSUER,
            expiring=False,
        ),
    )
    await backend.commit()

    bearer = await core.bearer.authenticate(issued.raw, backend.storage)
    assert bearer.person.id == people.pat.id
    await backend.set_role(space_id, people.pat, "member")
    bearer = await core.bearer.authenticate(issued.raw, backend.storage)
    assert bearer.person.id == people.olga.id
    await backend.remove_space(space_id)
    with pytest.raises(InvalidToken):
        await core.bearer.authenticate(issued.raw, backend.storage)


# ---- as composed for the server -----------------------------------------------------------------


@pytest.mark.rfc("6749 4.1")
async def test_the_composed_server_runs_the_code_flow_on_this_storage(
    backend: Backend, app: Registered, people: People, tmp_path: Any
) -> None:
    settings = make_settings(f"sqlite:///{tmp_path}/unused.db")
    rules = Rules.from_settings(settings, Throttle(make_storage(None)))
    server = OAuthServer.build(settings, rules, ServerSecret(b"x" * 32))
    request = authorization_request(app)
    viewer = Viewer(user_id=people.pat.id, auth_time=server.config.clock())
    asked = await server.authorization.handle(request, viewer, backend.storage)
    assert isinstance(asked, NeedConsent)
    done = await server.authorization.handle(
        request, viewer, backend.storage, answer("approve", asked.purpose)
    )
    assert isinstance(done, RedirectToClient)
    await backend.commit()
    code = query_of(done.url)["code"]
    response = await server.token.handle(redeem(app, code), backend.storage)
    await backend.commit()
    bearer = await server.bearer.authenticate(response.body["access_token"], backend.storage, "read_user")
    assert bearer.person.email == "pat@example.com"
