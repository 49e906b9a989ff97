"""The process ``frontdesk serve`` becomes: uvicorn's server or worker supervisor.

``frontdesk serve`` checks the configuration and the database (which needs SQLAlchemy, the
settings and the store), then replaces itself (``exec``, same process id: signals, pid files
and ``kill`` reach it as before) with ``python -m frontdesk.web.supervisor <options>``: a fresh
interpreter without the CLI's leftovers, which hands uvicorn the application as an import
string. With one worker this process serves itself and imports the application as any worker
does.

With ``--workers N`` (docs/performance.md, "Memory") uvicorn's supervisor starts, watches (and
restarts, should one die) and stops the workers, which it *forks* from this process after
:func:`preload` has imported the application's modules and built the application here
(frontdesk/preload.py): the workers share those pages (some 120 MiB of libraries, code and
the application's objects) with this process and with each other instead of each importing
its own copy into a fresh interpreter, which is what uvicorn's default (``spawn``) does. The
application is built from the environment the workers inherit, but not started: no database
or Redis connection is opened and no task or thread of the application runs here; each
worker takes the built application (``create_app_from_env``) and starts it (its lifespan).
The imported objects are moved out of the garbage collector's reach (``gc.freeze``) so that
its passes in the workers do not write to, and so copy, the shared pages.

What runs here must stay free of the application's running state: tests/e2e/test_supervisor.py
checks that the supervisor of ``--workers 2`` holds no database file open while its workers
do, and that the workers share much of their memory; tests/faults (PostgreSQL and Redis)
that a revocation through one worker is refused by the other at once.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import sys
from typing import Any

from frontdesk import heap

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


def preload() -> None:
    """Import the application's modules, build the application and make uvicorn fork its
    workers from this process (the module docstring says why). Must run before uvicorn starts
    any worker, with no thread of the application running (there is none: nothing is
    started)."""
    import uvicorn._subprocess

    from frontdesk import metrics_setup
    from frontdesk.preload import import_application
    from frontdesk.web.app import build_before_fork

    import_application()
    build_before_fork()
    metrics_setup.forget_process(os.getpid())
    gc.collect()
    gc.freeze()
    # uvicorn creates every worker through this context (uvicorn/_subprocess.py); fork is
    # Linux's default start method and what gunicorn's preloading relies on.
    uvicorn._subprocess.spawn = multiprocessing.get_context("fork")  # type: ignore[assignment]


def before_workers(options: dict[str, Any]) -> None:
    """Runs in the supervisor before uvicorn starts any worker: the place for set-up every worker
    must inherit through the environment (for instance a metrics directory shared by the
    workers, which must exist and be empty before they start), then, with several workers,
    :func:`preload`."""
    # Prometheus multiprocess mode (frontdesk/metrics_setup.py, docs/metrics.md): the workers'
    # shared directory, and FRONTDESK_METRICS_ADDRESS served from a thread of this process.
    from frontdesk import metrics_setup

    reload, workers = bool(options["reload"]), int(options["workers"])
    # --reload serves from a child process too: it needs the shared directory like workers.
    metrics_setup.prepare(2 if reload else workers)
    if options.get("metrics_address"):
        metrics_setup.serve_internal(str(options["metrics_address"]))
    if not reload and workers > 1:
        preload()


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    options: dict[str, Any] = json.loads(args[0])
    # Before any thread exists, so that every thread of this process and of the workers forked
    # from it allocates from the one heap whose free memory can be given back (frontdesk/heap.py).
    heap.limit_arenas()
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
