"""The per-process application state shared by every request."""

from __future__ import annotations

from dataclasses import dataclass

from frontdesk.security.keyring import Keyring
from frontdesk.security.passwords import Passwords
from frontdesk.services.throttle import Rule, Throttle
from frontdesk.settings import Settings
from frontdesk.store.db import Database
from frontdesk.web.csrf import Csrf
from frontdesk.web.hosts import SiteResolver
from frontdesk.web.oauth_glue import OAuthServer
from frontdesk.web.sessions import SessionStore


@dataclass
class LoginRules:
    per_account: Rule
    per_address: Rule

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginRules:
        return cls(
            per_account=Rule.parse("login-account", settings.login_failures_per_account),
            per_address=Rule.parse("login-address", settings.login_failures_per_address),
        )


@dataclass
class AppState:
    settings: Settings
    keyring: Keyring
    db: Database
    passwords: Passwords
    throttle: Throttle
    resolver: SiteResolver
    login_rules: LoginRules
    sessions: SessionStore
    csrf: Csrf
    oauth: OAuthServer
