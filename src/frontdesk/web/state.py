"""The per-process state every request shares: the composition root's parts plus the web's
own (host resolution, browser sessions, anti-forgery)."""

from __future__ import annotations

from dataclasses import dataclass

from frontdesk.composition import Frontdesk
from frontdesk.records import SpaceRef
from frontdesk.settings import Settings
from frontdesk.web.csrf import Csrf
from frontdesk.web.hosts import SiteResolver
from frontdesk.web.sessions import BrowserSessions


@dataclass
class AppState(Frontdesk):
    resolver: SiteResolver
    sessions: BrowserSessions
    csrf: Csrf

    @classmethod
    def build(cls, settings: Settings) -> AppState:
        parts = cls.parts(settings)
        state: AppState

        async def space_of_host(by: str, value: str) -> SpaceRef | None:
            async with state.unit_of_work() as uow:
                return await uow.storage.space_by_host(by, value)

        sessions = BrowserSessions(settings, parts.server_secret)
        state = cls(
            **vars(parts),
            resolver=SiteResolver(settings, space_of_host),
            sessions=sessions,
            csrf=Csrf(settings, parts.server_secret, sessions),
        )
        return state
