"""The gunicorn settings onebox adds to every app's gunicorn (`onebox-release serve` passes this
file as --config).

- Each worker says on stderr, which is the unit's journal, when it has loaded the app, so a deploy
  waits for workers that can answer rather than for processes that exist.
- The client's address: behind nginx on a unix socket, gunicorn sees no peer address at all (an
  empty REMOTE_ADDR), so the app and gunicorn's access log would be blind. nginx sends the client's
  address as X-Real-IP (after its own real-IP rules for trusted proxies); it becomes REMOTE_ADDR when
  the request came through the socket (only nginx may connect to it) or from an address in gunicorn's
  forwarded_allow_ips. The access log reads the same environ, after the app ran.
- The app's request metrics (prometheus_client's multiprocess mode, when serve turned them on): a
  worker that exits is marked dead, as the library asks.
"""

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


def post_worker_init(worker):
    allowed = getattr(worker.cfg, "forwarded_allow_ips", ()) or ()
    worker.wsgi = client_address(worker.wsgi, allowed)
    print(f"onebox: worker {worker.pid} ready", file=sys.stderr, flush=True)


def child_exit(server, worker):
    if os.environ.get("ONEBOX_METRICS") == "1":
        with contextlib.suppress(ImportError):
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(worker.pid)
