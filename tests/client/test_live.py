"""frontdesk.client against a real ``frontdesk serve`` process."""

from __future__ import annotations

import dataclasses
import html
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit

import pytest

from frontdesk.client import (
    AccessDenied,
    ApiClient,
    ApiError,
    ContextError,
    Forbidden,
    IdTokenError,
    InsufficientScope,
    InvalidClient,
    InvalidGrant,
    InvalidToken,
    IssuerMismatch,
    NavigationLinkSpec,
    NotFound,
    PendingAuthorization,
    StateMismatch,
    Token,
    UnsupportedGrantType,
)
from tests.client.conftest import CALLBACK, App, Browser, LoopbackTransport, World, form_fields, query_of
from tests.support import PASSWORD

pytestmark = pytest.mark.e2e


def web_flow(
    world: World, browser: Browser, scope: str = "openid email read_user", **kwargs: object
) -> Token:
    with world.client() as client:
        pending = client.start_authorization(scope, **kwargs)  # type: ignore[arg-type]
        callback = browser.authorize(pending.url)
        return client.finish_authorization(pending, callback)


# ---- discovery ------------------------------------------------------------------------------------


def test_discovery_of_the_main_host_and_of_a_space(world: World) -> None:
    with world.client() as client:
        main = client.discover()
        space = client.discover(client.issuer_for_space(world.space))
        custom = client.discover(f"http://{world.custom_domain}:{world.port}")
    assert main.issuer == world.issuer
    assert main.token_endpoint == f"{world.issuer}/oauth/access_token"
    assert main.authorization_response_iss_parameter_supported
    assert "S256" in main.code_challenge_methods_supported
    assert space.issuer == world.space_issuer() == client.issuer_for_space("co-up")
    assert space.authorization_endpoint == f"{world.space_issuer()}/oauth/authorize"
    assert space.jwks_uri == f"{world.space_issuer()}/jwks.json"
    assert custom.issuer == f"http://{world.custom_domain}:{world.port}"


def test_discovery_refuses_metadata_of_another_issuer(world: World) -> None:
    """127.0.0.1 serves the main site, but its metadata names the canonical issuer."""
    with world.client() as client, pytest.raises(IssuerMismatch) as caught:
        client.discover(f"http://127.0.0.1:{world.port}")
    assert caught.value.expected == f"http://127.0.0.1:{world.port}"
    assert caught.value.actual == world.issuer


def test_resolve_space_issuer_prefers_the_custom_domain(world: World) -> None:
    with world.client() as client:
        assert client.resolve_space_issuer(world.custom_space) == f"http://{world.custom_domain}:{world.port}"
        assert client.resolve_space_issuer(world.space) == world.space_issuer()
        with pytest.raises(NotFound):
            client.resolve_space_issuer("no-such-space")


# ---- the web flow ---------------------------------------------------------------------------------


def test_web_flow_with_pkce_state_iss_and_nonce(world: World, alice_browser: Browser) -> None:
    with world.client() as client:
        pending = client.start_authorization("openid email read_user")
        params = query_of(pending.url)
        assert params["code_challenge_method"] == "S256" and params["code_challenge"]
        assert params["state"] == pending.state and params["nonce"] == pending.nonce
        assert params["redirect_uri"] == CALLBACK
        # The app keeps the pending authorization in its session, as JSON.
        stored = PendingAuthorization.from_dict(pending.to_dict())
        callback = alice_browser.authorize(pending.url)
        assert query_of(callback)["iss"] == world.issuer
        token = client.finish_authorization(stored, callback)
        assert token.token_type == "bearer"
        assert token.scope == ("openid", "email", "read_user")
        assert token.expires_at is None and token.refresh_token is None
        assert token.issuer == world.issuer
        claims = token.id_token_claims
        assert claims is not None
        assert claims["iss"] == world.issuer and claims["aud"] == world.app.client_id
        assert claims["nonce"] == pending.nonce and claims["email"] == world.alice
        user = client.api(token).get_user()
        assert user.id == claims["sub"] and user.email == world.alice
        assert user.is_admin_of(world.space)


async def test_web_flow_async(world: World, alice_browser: Browser) -> None:
    async with world.async_client() as client:
        pending = await client.start_authorization(["openid", "read_user"])
        callback = alice_browser.authorize(pending.url)  # the person's browser (blocking is fine here)
        token = await client.finish_authorization(pending, callback)
        assert token.id_token_claims is not None and token.id_token_claims["nonce"] == pending.nonce
        async with client.api(token) as api:
            user = await api.get_user()
        assert user.email == world.alice
        info = await client.api(token).get_token_info()
        assert info.scope == ("openid", "read_user")


def test_web_flow_with_client_secret_post_and_callback_params(world: World, bob_browser: Browser) -> None:
    with world.client(token_endpoint_auth_method="client_secret_post") as client:
        pending = client.start_authorization("read_user")
        assert pending.nonce is None  # no openid, no nonce
        callback = bob_browser.authorize(pending.url)
        token = client.finish_authorization(pending, query_of(callback))  # a mapping works too
    assert token.id_token is None and token.scope == ("read_user",)


def test_public_app_uses_pkce_without_a_secret(world: World, bob_browser: Browser) -> None:
    with world.client(world.public_app) as client:
        assert client.config.auth_method == "none"
        pending = client.start_authorization("read_user")
        token = client.finish_authorization(pending, bob_browser.authorize(pending.url))
        assert client.api(token).get_user().email == world.bob


def test_in_space_oauth(world: World, alice_browser: Browser) -> None:
    """An app in an iframe sends the person to the space's own host; everything (the code
    exchange, the ID token) belongs to the space's issuer."""
    with world.client() as client:
        issuer = client.issuer_for_space(world.space)
        pending = client.start_authorization("openid read_user", issuer=issuer)
        assert pending.url.startswith(f"{issuer}/oauth/authorize?")
        assert pending.issuer == issuer
        token = client.finish_authorization(pending, alice_browser.authorize(pending.url))
        assert token.issuer == issuer
        assert token.id_token_claims is not None
        assert token.id_token_claims["iss"] == issuer
        assert token.id_token_claims["space"]["subdomain"] == world.space
        assert token.id_token_claims["space"]["role"] == "admin"
        assert client.api(token).get_user().email == world.alice


def test_in_space_oauth_on_a_custom_domain(world: World, alice_browser: Browser) -> None:
    with world.client() as client:
        issuer = client.resolve_space_issuer(world.custom_space)
        assert issuer == f"http://{world.custom_domain}:{world.port}"
        pending = client.start_authorization("openid read_user", issuer=issuer)
        token = client.finish_authorization(pending, alice_browser.authorize(pending.url))
        assert token.issuer == issuer
        assert token.id_token_claims is not None and token.id_token_claims["iss"] == issuer
        assert token.id_token_claims["space"]["subdomain"] == world.custom_space


def test_denied_consent_raises_access_denied(world: World, bob_browser: Browser) -> None:
    with world.client() as client:
        pending = client.start_authorization("read_user", extra_params={"prompt": "consent"})
        callback = bob_browser.authorize(pending.url, decision="deny")
        with pytest.raises(AccessDenied) as caught:
            client.finish_authorization(pending, callback)
    assert caught.value.error == "access_denied"
    assert caught.value.description
    assert caught.value.status is None


def test_state_mismatch(world: World, bob_browser: Browser) -> None:
    with world.client() as client:
        mine = client.start_authorization("read_user")
        other = client.start_authorization("read_user")
        callback = bob_browser.authorize(other.url)
        with pytest.raises(StateMismatch):
            client.finish_authorization(mine, callback)
        params = query_of(callback)
        del params["state"]
        with pytest.raises(StateMismatch):
            client.finish_authorization(other, params)
        # The code was never sent anywhere: the right pending authorization still redeems it.
        assert client.finish_authorization(other, callback).scope == ("read_user",)


def test_iss_mismatch_a_callback_from_another_issuer(world: World, alice_browser: Browser) -> None:
    """Mix-up: a code minted by the space's issuer must not be sent to the main issuer."""
    with world.client() as client:
        at_space = client.start_authorization("read_user", issuer=world.space_issuer(), state="same-state")
        at_main = client.start_authorization("read_user", state="same-state")
        callback = alice_browser.authorize(at_space.url)
        with pytest.raises(IssuerMismatch) as caught:
            client.finish_authorization(at_main, callback)
        assert caught.value.actual == world.space_issuer()
        # The server promises iss (RFC 9207), so a callback without it is refused as well.
        params = query_of(callback)
        del params["iss"]
        with pytest.raises(IssuerMismatch):
            client.finish_authorization(at_space, params)


def test_a_code_cannot_be_redeemed_twice(world: World, bob_browser: Browser) -> None:
    with world.client() as client:
        pending = client.start_authorization("read_user")
        callback = bob_browser.authorize(pending.url)
        client.finish_authorization(pending, callback)
        with pytest.raises(InvalidGrant) as caught:
            client.finish_authorization(pending, callback)
    assert caught.value.status == 400


def test_wrong_client_secret(world: World, bob_browser: Browser) -> None:
    app = dataclasses.replace(world.app, client_secret="not-the-secret")
    with world.client(app) as client:
        pending = client.start_authorization("read_user")
        with pytest.raises(InvalidClient) as caught:
            client.finish_authorization(pending, bob_browser.authorize(pending.url))
    assert caught.value.status == 401


# ---- password grant, ID tokens --------------------------------------------------------------------


def test_password_grant(world: World) -> None:
    with world.client() as client:
        token = client.password_grant(world.bob, PASSWORD, "read_user")
        assert token.scope == ("read_user",)
        assert client.api(token).get_user().email == world.bob
        with pytest.raises(InvalidGrant):
            client.password_grant(world.bob, "wrong password", "read_user")


async def test_password_grant_async_with_openid(world: World) -> None:
    async with world.async_client() as client:
        token = await client.password_grant(world.alice, PASSWORD, "openid email")
        assert token.id_token_claims is not None and token.id_token_claims["email"] == world.alice


def test_verify_id_token(world: World) -> None:
    with world.client() as client:
        token = client.password_grant(world.alice, PASSWORD, "openid profile")
        assert token.id_token is not None
        claims = client.verify_id_token(token.id_token, issuer=world.issuer, access_token=token.access_token)
        assert claims["name"] == "Alice Admin"
        with pytest.raises(IdTokenError, match="issued by"):
            client.verify_id_token(token.id_token, issuer=world.space_issuer())
        with pytest.raises(IdTokenError, match="nonce"):
            client.verify_id_token(token.id_token, issuer=world.issuer, nonce="expected-a-nonce")
        with pytest.raises(IdTokenError, match="at_hash"):
            client.verify_id_token(token.id_token, issuer=world.issuer, access_token="another-token")
        head, body, sig = token.id_token.split(".")
        forged = f"{head}.{body}.{sig[:-4]}AAAA"
        with pytest.raises(IdTokenError, match="signature"):
            client.verify_id_token(forged, issuer=world.issuer)
    with world.client(world.public_app) as other_app, pytest.raises(IdTokenError, match="aud"):
        other_app.verify_id_token(token.id_token, issuer=world.issuer)


# ---- space tokens, memberships, API errors --------------------------------------------------------


def test_space_token_and_memberships(world: World) -> None:
    with world.client() as client:
        user_token = client.password_grant(world.alice, PASSWORD, "read_user read_memberships")
        api = client.api(user_token)
        space = api.get_space(world.space)
        by_user = api.memberships(world.space)
        assert {m.email: m.role for m in by_user} == {world.alice: "admin", world.bob: "member"}

        space_token = client.space_token(user_token, world.space)
        assert space_token.client_id == world.app.client_id
        assert space_token.space_id == space.id and space_token.space_subdomain == world.space
        assert space_token.scope == ("read_user", "read_memberships")
        by_id = client.space_token(user_token, world.space, resolve_id=True)  # Cobot's two calls
        assert by_id.space_id == space.id

        with client.api(space_token) as space_api:
            on_space_host = space_api.memberships()  # <space host>/api/memberships
            assert {m.id for m in on_space_host} == {m.id for m in by_user}
            assert space_api.memberships(world.space) == on_space_host
            assert space_api.get_token_info().scope == ("read_user", "read_memberships")
            with pytest.raises(ApiError) as caught:  # a space token reaches only its own space
                space_api.memberships(world.custom_space)
            assert caught.value.status == 403  # Forbidden (or InsufficientScope on older servers)


def test_member_cannot_make_a_space_token_or_list_memberships(world: World) -> None:
    with world.client() as client:
        token = client.password_grant(world.bob, PASSWORD, "read_user read_memberships")
        with pytest.raises(Forbidden):
            client.space_token(token, world.space)
        with pytest.raises(Forbidden):
            client.api(token).memberships(world.space)
        with pytest.raises(NotFound):
            client.api(token).get_space("no-such-space")


def test_insufficient_scope_names_the_scope(world: World) -> None:
    with world.client() as client:
        token = client.password_grant(world.alice, PASSWORD, "read_user")
        with pytest.raises(InsufficientScope) as caught:
            client.api(token).memberships(world.space)
    assert caught.value.status == 403 and caught.value.scope == "read_memberships"


def test_unknown_token(world: World) -> None:
    api = ApiClient("fdat_not-a-real-token", base=world.issuer, transport=LoopbackTransport(world.port))
    with api, pytest.raises(InvalidToken) as caught:
        api.get_user()
    assert caught.value.status == 401 and caught.value.error == "invalid_token"


# ---- navigation links -----------------------------------------------------------------------------


SPECS = [
    NavigationLinkSpec("admin/manage", "Desk Helper", "https://app.example/admin"),
    {"section": "members", "label": "Book a desk", "iframe_url": "https://app.example/book"},
]


def test_navigation_links_install_list_delete(world: World) -> None:
    with world.client() as client:
        user_token = client.password_grant(world.alice, PASSWORD, "navigation")
        api = client.api(client.space_token(user_token, world.space))
        for link in api.list_navigation_links(world.space):
            api.delete_navigation_link(world.space, link)
        first = api.install_navigation_links(world.space, SPECS)
        assert [(link.section, link.label) for link in first] == [
            ("admin/manage", "Desk Helper"),
            ("members", "Book a desk"),
        ]
        assert first[0].user_url.startswith(world.space_issuer() + "/navigation/")
        again = api.install_navigation_links(world.space, [*SPECS, SPECS[0]])  # idempotent
        assert [link.id for link in again] == [first[0].id, first[1].id, first[0].id]
        assert {link.id for link in api.list_navigation_links(world.space)} == {first[0].id, first[1].id}
        extra = api.create_navigation_link(
            world.space, "admin/setup", "Settings", "https://app.example/setup"
        )
        assert extra.user_editable is True
        api.delete_navigation_link(world.space, extra.id)
        api.delete_navigation_link(world.space, first[1])
        assert [link.id for link in api.list_navigation_links(world.space)] == [first[0].id]
        with pytest.raises(NotFound):
            api.delete_navigation_link(world.space, first[1].id)


async def test_navigation_links_async(world: World) -> None:
    async with world.async_client() as client:
        user_token = await client.password_grant(world.alice, PASSWORD, "navigation")
        api = client.api(user_token)  # an admin's user token works as well
        links = await api.install_navigation_links(
            world.custom_space, [NavigationLinkSpec("members", "Async", "https://app.example/async")]
        )
        assert [link.label for link in await api.list_navigation_links(world.custom_space)] == ["Async"]
        await api.delete_navigation_link(world.custom_space, links[0])
        assert await api.list_navigation_links(world.custom_space) == ()


def test_verify_the_iframe_context(world: World, alice_browser: Browser) -> None:
    with world.client() as client:
        user_token = client.password_grant(world.alice, PASSWORD, "navigation")
        api = client.api(user_token)
        (link,) = api.install_navigation_links(
            world.space, [NavigationLinkSpec("members", "Context", "https://app.example/context?x=1")]
        )
        page = alice_browser.open(link.user_url)
        assert page.status_code == 200, page.text
        src = _iframe_src(page.text)
        params = query_of(src)
        assert params["cobot_subdomain"] == world.space
        if "frontdesk_context" not in params:
            pytest.skip("the server does not add frontdesk_context to iframe URLs yet")
        issuer = client.issuer_for_space(params["cobot_subdomain"])
        context = client.verify_context(params["frontdesk_context"], issuer=issuer, subdomain=world.space)
        assert context.user_id == params["cobot_user_id"]
        assert context.role == "admin" and context.is_admin
        assert context.space_subdomain == world.space and context.issuer == issuer
        assert context.client_id == world.app.client_id
        assert context.navigation_link_id in (None, link.id)
        assert 0 < (context.expires_at - context.issued_at).total_seconds() <= 600
        with pytest.raises(ContextError, match="issued by"):
            client.verify_context(params["frontdesk_context"], issuer=world.issuer)
    with world.client(world.public_app) as other_app, pytest.raises(ContextError, match="aud"):
        other_app.verify_context(params["frontdesk_context"], issuer=issuer)


def test_verify_the_iframe_context_on_a_custom_domain(world: World, alice_browser: Browser) -> None:
    """Opened on the space's custom domain, the context is issued by that domain's issuer: the
    app accepts either issuer of the space."""
    with world.client() as client:
        api = client.api(client.password_grant(world.alice, PASSWORD, "navigation"))
        (link,) = api.install_navigation_links(
            world.custom_space, [NavigationLinkSpec("admin/manage", "Harbour", "https://app.example/harbour")]
        )
        custom = f"http://{world.custom_domain}:{world.port}"
        page = alice_browser.open(custom + urlsplit(link.user_url).path)
        assert page.status_code == 200, page.text
        params = query_of(_iframe_src(page.text))
        if "frontdesk_context" not in params:
            pytest.skip("the server does not add frontdesk_context to iframe URLs yet")
        issuers = [
            client.issuer_for_space(params["cobot_subdomain"]),
            client.resolve_space_issuer(world.custom_space),
        ]
        context = client.verify_context(
            params["frontdesk_context"], issuer=issuers, subdomain=world.custom_space
        )
        assert context.issuer in issuers and context.role == "admin"


def _iframe_src(page: str) -> str:
    match = re.search(r'<iframe\b[^>]*\bsrc="([^"]+)"', page)
    assert match, "the page has no iframe"
    return html.unescape(match.group(1))


# ---- revocation, refresh --------------------------------------------------------------------------


def test_revoke(world: World) -> None:
    with world.client() as client:
        token = client.password_grant(world.bob, PASSWORD, "read_user")
        api = client.api(token)
        assert api.get_user().email == world.bob
        client.revoke(token)
        with pytest.raises(InvalidToken):
            api.get_user()
        client.revoke(token)  # RFC 7009 §2.2: revoking again (an invalid token) is fine
        client.revoke("fdat_never-issued", token_type_hint="access_token")


def test_introspect(world: World) -> None:
    with world.client() as client:
        token = client.password_grant(world.bob, PASSWORD, "read_user")
        result = client.introspect(token.access_token)
        assert result.active and result.scope == ("read_user",) and result.client_id == world.app.client_id
        assert client.introspect("fdat_never-issued").active is False


def _expiring(world: World) -> App:
    if world.expiring_app is None:
        pytest.skip(
            "`frontdesk clients create` has no --access-token-ttl option: no app with expiring tokens"
        )
    return world.expiring_app


def test_refresh_with_rotation(world: World) -> None:
    app = _expiring(world)
    with world.client(app) as client:
        token = client.password_grant(world.bob, PASSWORD, "openid read_user")
        assert token.expires_at is not None and token.refresh_token
        assert 0 < (token.expires_in() or 0) <= 300
        try:
            fresh = client.refresh(token)
        except UnsupportedGrantType:
            pytest.skip("the server does not support grant_type=refresh_token yet")
        assert fresh.access_token != token.access_token
        assert fresh.refresh_token and fresh.refresh_token != token.refresh_token  # rotation
        assert fresh.scope == ("openid", "read_user")
        assert token.id_token_claims is not None
        assert fresh.id_token_claims is None or fresh.id_token_claims["sub"] == token.id_token_claims["sub"]
        assert client.api(fresh).get_user().email == world.bob
        narrowed = client.refresh(fresh, scope="read_user")
        assert narrowed.scope == ("read_user",)
        with pytest.raises(InvalidGrant):  # a spent refresh token
            client.refresh(token)


def test_auto_refresh_in_the_api_client(world: World) -> None:
    app = _expiring(world)
    with world.client(app) as client:
        token = client.password_grant(world.bob, PASSWORD, "read_user")
        # Pretend it is about to expire: the API client refreshes before the request.
        saved: list[Token] = []
        api = client.api(
            dataclasses.replace(token, expires_at=_seconds_from_now(5)),
            auto_refresh=True,
            on_refresh=saved.append,
        )
        try:
            user = api.get_user()
        except UnsupportedGrantType:
            pytest.skip("the server does not support grant_type=refresh_token yet")
        assert user.email == world.bob
        assert len(saved) == 1 and api.token is saved[0]
        assert saved[0].access_token != token.access_token
        # An access token the API refuses (401): one refresh, then the same request again.
        refused = dataclasses.replace(saved[0], access_token="fdat_refused-by-the-api")
        api = client.api(refused, auto_refresh=True, on_refresh=saved.append)
        assert api.get_user().email == world.bob
        assert len(saved) == 2 and api.token is saved[1]


async def test_auto_refresh_async(world: World) -> None:
    app = _expiring(world)
    async with world.async_client(app) as client:
        token = await client.password_grant(world.bob, PASSWORD, "read_user")
        soon = dataclasses.replace(token, expires_at=_seconds_from_now(1))
        saved: list[Token] = []

        async def store(new: Token) -> None:
            saved.append(new)

        api = client.api(soon, auto_refresh=True, on_refresh=store)
        try:
            users = [await api.get_user(), await api.get_user()]
        except UnsupportedGrantType:
            pytest.skip("the server does not support grant_type=refresh_token yet")
        assert [u.email for u in users] == [world.bob, world.bob]
        assert len(saved) == 1


def _seconds_from_now(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def test_the_document_callback_url_with_the_app_query(world: World, bob_browser: Browser) -> None:
    """finish_authorization takes the whole callback URL, whatever else its query holds."""
    with world.client() as client:
        pending = client.start_authorization("read_user")
        callback = bob_browser.authorize(pending.url)
        params = query_of(callback)
        token = client.finish_authorization(pending, f"{CALLBACK}?{urlencode(params)}")
    assert token.scope == ("read_user",)


def test_consent_form_is_the_one_the_browser_posts(world: World, alice_browser: Browser) -> None:
    """Guard for the test browser itself: the consent form carries the request."""
    with world.client() as client:
        pending = client.start_authorization("read_user profile", extra_params={"prompt": "consent"})
    page = alice_browser.open(pending.url)
    fields = form_fields(page.text, "/oauth/authorize")
    assert fields["client_id"] == world.app.client_id and fields["state"] == pending.state
    assert fields["csrf_token"]
