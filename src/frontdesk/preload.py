"""What ``frontdesk serve``'s supervisor loads before it forks the workers (web/supervisor.py,
``preload``; docs/performance.md, "Memory"): the application's modules and SQLAlchemy's mapper
set-up, which each worker would otherwise do, and write, on its first query. The migrations'
head revision comes from ``frontdesk serve`` (store/migrate.py ``HEAD_FROM_SERVE``): no process
of the server loads Alembic. The supervisor then builds the application itself
(web/app.py, ``build_before_fork``) from the environment the workers inherit (settings read,
routes and middleware set up), which each worker starts on its own: no connection is opened,
no task or thread started there. What must differ between workers is made in each (the cache
invalidation channel's sender name, store/invalidation.py; prometheus-client's value files,
frontdesk/metrics_setup.py).

Features a worker may never use import their libraries on first use and are not loaded here
either (passkeys, custom domain checks, the API reference page, session device names:
tests/web/test_lazy_imports.py)."""

from __future__ import annotations


def import_application() -> None:
    from sqlalchemy.orm import configure_mappers

    import frontdesk.store.models  # the mapped classes
    import frontdesk.web.app  # noqa: F401 - the modules only, not an application

    configure_mappers()
