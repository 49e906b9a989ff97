"""Thin adapters of :mod:`frontdesk.client.resource_server` for web frameworks.

Each imports its framework only when used, so none is a dependency of ``frontdesk.client``:

* :mod:`.starlette`: Starlette and FastAPI (async);
* :mod:`.flask`: Flask (blocking);
* :mod:`.django`: Django views (blocking).
"""
