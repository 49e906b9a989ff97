"""The process ``frontdesk serve`` becomes: uvicorn's server or worker supervisor, without the
application.

``frontdesk serve`` checks the configuration and the database (which needs SQLAlchemy, the
settings and the store), then replaces itself (``exec``, same process id: signals, pid files
and ``kill`` reach it as before) with ``python -m frontdesk.web.supervisor <options>``: a fresh
interpreter that imports uvicorn, the log set-up and :mod:`frontdesk.web.server`, and hands
uvicorn the application as an import string. With ``--workers N`` uvicorn's supervisor only
starts, watches (and restarts, should one die) and stops the workers, each of which imports the
application itself (uvicorn spawns them); before, the launcher kept the application's imports
it needed for the checks, some 77 MiB resident, for nothing (docs/performance.md, "Memory").
With one worker this process serves itself and imports the application as any worker does.

What runs here must stay light: tests/web/test_supervisor.py checks that the supervisor of
``--workers 2`` never imports ``frontdesk.web.app`` nor SQLAlchemy.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

APP = "frontdesk.web.app:create_app_from_env"


def command(options: dict[str, Any]) -> list[str]:
    """The command line that runs :func:`main` with ``options`` (JSON: no secrets in them,
    since the process list shows them)."""
    return [sys.executable, "-m", "frontdesk.web.supervisor", json.dumps(options, sort_keys=True)]


def exec_supervisor(options: dict[str, Any]) -> None:
    """Become the supervisor (never returns)."""
    sys.stdout.flush()
    sys.stderr.flush()
    argv = command(options)
    os.execv(argv[0], argv)  # noqa: S606 - this interpreter, fixed arguments


def before_workers(options: dict[str, Any]) -> None:
    """Runs in the supervisor before uvicorn starts any worker: the place for set-up every worker
    must inherit through the environment (for instance a metrics directory shared by the
    workers, which must exist and be empty before they start)."""
    # Prometheus multiprocess mode (frontdesk/metrics_setup.py, docs/metrics.md): the workers'
    # shared directory, and FRONTDESK_METRICS_ADDRESS served from a thread of this process.
    from frontdesk import metrics_setup

    # --reload serves from a child process too: it needs the shared directory like workers.
    metrics_setup.prepare(2 if options["reload"] else int(options["workers"]))
    if options.get("metrics_address"):
        metrics_setup.serve_internal(str(options["metrics_address"]))


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    options: dict[str, Any] = json.loads(args[0])
    before_workers(options)

    import uvicorn

    from frontdesk.logs import uvicorn_log_config
    from frontdesk.web.server import uvicorn_options

    reload = bool(options["reload"])
    uvicorn.run(
        APP,
        factory=True,
        host=options["host"],
        port=options["port"],
        workers=None if reload else options["workers"],
        reload=reload,
        proxy_headers=False,  # Frontdesk reads X-Forwarded-* itself, from trusted proxies only
        server_header=False,
        access_log=options["access_log"],
        log_config=uvicorn_log_config(options["log_level"], options["access_log"]),
        # Request heads over FRONTDESK_MAX_HEADER_BYTES: 431 from the server (web/server.py).
        **uvicorn_options(options["max_header_bytes"], options["shutdown_timeout_seconds"]),
    )


if __name__ == "__main__":
    main()
