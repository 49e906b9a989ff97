"""What ``frontdesk serve``'s supervisor loads before it forks the workers (web/supervisor.py,
``preload``; docs/performance.md, "Memory"): the application's modules and SQLAlchemy's mapper
set-up, which each worker would otherwise do, and write, on its first query. Nothing here
builds an application, reads settings or opens a connection."""

from __future__ import annotations


def import_application() -> None:
    from sqlalchemy.orm import configure_mappers

    import frontdesk.store.models  # the mapped classes
    import frontdesk.web.app  # noqa: F401 - the modules only, not an application

    configure_mappers()
