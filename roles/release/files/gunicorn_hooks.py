"""The gunicorn settings onebox adds to every app's gunicorn (`onebox-release serve` passes this
file as --config).

- Each worker says on stderr, which is the unit's journal, when it has loaded the app, so a deploy
  waits for workers that can answer rather than for processes that exist.
- The client's address: behind nginx on a unix socket, gunicorn sees no peer address at all (an
  empty REMOTE_ADDR), so the app and gunicorn's access log would be blind. nginx sends the client's
  address as X-Real-IP (after its own real-IP rules for trusted proxies); it becomes REMOTE_ADDR when
  the request came through the socket (only nginx may connect to it) or from an address in gunicorn's
  forwarded_allow_ips. The access log reads the same environ, after the app ran.
- A worker imports the project's URLconf (and with it every view module) before it accepts, so
  its first request is not the one that waits for those imports: during a deploy, each new
  worker's first answer was the slowest of the load. A URLconf that fails to import is left to fail
  on its request, as it would without this. Database connections its import opened are closed
  before any fork.
- A worker that stops cleanly (a restart, a handover that ends, max-requests) runs the atexit
  handlers (logging's flush, an error reporter's) and exits without tearing the interpreter down:
  forked from a preloaded master, a teardown writes to every object's page and copies it, and
  five workers doing that at once took the CPU from the instance that serves (up to 170 ms more
  for the requests of that moment). A worker that fails exits as gunicorn has it, with its status.
- The app's request metrics (prometheus_client's multiprocess mode, when serve turned them on): a
  worker that exits is marked dead, as the library asks.
"""

import atexit
import contextlib
import ipaddress
import os
import sys


def client_address(app, trusted_peers=()):
    """Wrap a WSGI app so that REMOTE_ADDR is the client's, from a trusted proxy's X-Real-IP."""
    trusted = {str(peer) for peer in trusted_peers}

    def application(environ, start_response):
        real = environ.get("HTTP_X_REAL_IP", "").strip()
        peer = environ.get("REMOTE_ADDR", "")
        if real and (not peer or peer in trusted or "*" in trusted):
            with contextlib.suppress(ValueError):
                environ["REMOTE_ADDR"] = str(ipaddress.ip_address(real))
        return app(environ, start_response)

    return application


def warm_up():
    """Import the root URLconf and build its resolver now (Django does both on the first request).
    Returns what went wrong, or "" (a non-Django app, or a broken URLconf, serves as it would)."""
    try:
        from django.urls import get_resolver

        resolver = get_resolver()
        resolver.url_patterns  # noqa: B018 (the import is the point)
        if not resolver._populated:  # a worker forked from a warmed master has it already
            resolver._populate()  # what the first resolve() would do
        # A URLconf that queried the database on import left a connection open: in the master it
        # would be shared by every forked worker. Each opens its own on its first query.
        from django.db import connections

        connections.close_all()
    except Exception as error:  # warming must never stop a worker
        return f"{type(error).__name__}: {error}"
    return ""


def when_ready(server):
    """In the master, before it forks its workers: with --preload the app is loaded here, and the
    URLconf warmed here is the one every worker inherits (once, not once per worker)."""
    if getattr(server.cfg, "preload_app", False):
        warm_up()


def post_worker_init(worker):
    problem = warm_up()
    if problem:
        print(f"onebox: worker {worker.pid} did not warm up ({problem})", file=sys.stderr, flush=True)
    allowed = getattr(worker.cfg, "forwarded_allow_ips", ()) or ()
    worker.wsgi = client_address(worker.wsgi, allowed)
    print(f"onebox: worker {worker.pid} ready", file=sys.stderr, flush=True)


def child_exit(server, worker):
    if os.environ.get("ONEBOX_METRICS") == "1":
        with contextlib.suppress(ImportError):
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(worker.pid)


def worker_exit(server, worker):
    """In the worker, as it ends (in gunicorn's `finally`, with the exit in flight)."""
    ending = sys.exc_info()[1]
    if isinstance(ending, SystemExit) and ending.code in (0, None):
        atexit._run_exitfuncs()  # what the interpreter would run first
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(0)
