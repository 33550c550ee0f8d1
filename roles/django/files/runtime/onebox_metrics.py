"""The app's request metrics, for any Django project onebox runs (part of onebox's runtime, in each
virtualenv's onebox-site).

- `PrometheusMiddleware`: onebox's settings overlay puts it first in MIDDLEWARE when gunicorn runs
  with a metrics directory (`onebox-release serve --metrics-dir`). It counts each response by
  method, view and status, and times it by method and view.
- `python -m onebox_metrics --listen 127.0.0.1:9200 --dir /run/<app>-metrics`: the exporter
  Prometheus scrapes (<app>-metrics.service).

Gunicorn's workers are separate processes, so the metrics use prometheus_client's multiprocess
mode: each gunicorn master gets its own folder <dir>/<master pid> (serve sets
PROMETHEUS_MULTIPROC_DIR to it before gunicorn starts), each worker writes its own files there, and
the exporter adds up the files of every folder. A folder whose master has exited (a restart, a
deploy's handover) is removed at the next scrape: its counters start again from zero, as after any
restart, which Prometheus's rate() expects. Only counters and histograms are used: no live gauges,
so a worker's exit needs nothing more than gunicorn's child_exit hook (gunicorn_hooks.py).
"""

import argparse
import glob
import os
import shutil
import sys
import threading
import time

METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
UNMATCHED = "<unmatched>"

_responses = None
_latency = None
# Workers may run threads (gunicorn --threads): the metrics are made once, and a scrape (each in a
# thread of its own) never removes a folder another one is reading.
_making = threading.Lock()
_collecting = threading.Lock()


def _metrics():
    """Created in the process that first records (a worker), after PROMETHEUS_MULTIPROC_DIR is set;
    once, whichever of a worker's threads comes first."""
    global _responses, _latency  # module-level metrics, as prometheus_client wants them
    if _responses is None:
        with _making:
            if _responses is None:
                from prometheus_client import Counter, Histogram

                _latency = Histogram(
                    "django_http_request_duration_seconds",
                    "Time from the first middleware until the response, by request method and view.",
                    ["method", "view"],
                )
                _responses = Counter(
                    "django_http_responses_total",
                    "Responses by request method, view and status code.",
                    ["method", "view", "status"],
                )
    return _responses, _latency


def view_name(request) -> str:
    """The URL pattern's name (Django uses the view's dotted path for an unnamed one): a bounded
    label, never the raw path."""
    match = getattr(request, "resolver_match", None)
    return match.view_name if match is not None else UNMATCHED


def record(method: str, view: str, status: int, seconds: float) -> None:
    responses, latency = _metrics()
    method = method if method in METHODS else "other"
    responses.labels(method, view, str(status)).inc()
    latency.labels(method, view).observe(seconds)


class PrometheusMiddleware:
    """First in MIDDLEWARE: sees every response, the ones Django made of an exception too (500)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        start = time.perf_counter()
        response = self.get_response(request)
        record(request.method, view_name(request), response.status_code, time.perf_counter() - start)
        return response


# ---------------------------------------------------------------------------------------------
# the exporter


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_exited(directory: str) -> list[str]:
    """Remove the folders of gunicorn masters that no longer run; returns their names."""
    removed = []
    for entry in sorted(os.listdir(directory)):
        path = os.path.join(directory, entry)
        if entry.isdigit() and os.path.isdir(path) and not alive(int(entry)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(entry)
    return removed


class FoldersCollector:
    """prometheus_client's MultiProcessCollector over every master's folder."""

    def __init__(self, directory: str):
        self.directory = directory

    def collect(self):
        from prometheus_client.multiprocess import MultiProcessCollector

        with _collecting:
            remove_exited(self.directory)
            files = glob.glob(os.path.join(self.directory, "*", "*.db"))
            return MultiProcessCollector.merge(files, accumulate=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Serve the app's request metrics to Prometheus.")
    parser.add_argument("--listen", default="127.0.0.1:9200", help="address:port (loopback)")
    parser.add_argument("--dir", required=True, help="the folder gunicorn's masters write their metrics in")
    args = parser.parse_args(argv)

    from prometheus_client import CollectorRegistry, start_http_server

    address, _, port = args.listen.rpartition(":")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FoldersCollector(args.dir))
    start_http_server(int(port), addr=address, registry=registry)
    where = f"http://{args.listen}/metrics"
    print(f"onebox: the app's metrics from {args.dir} at {where}", file=sys.stderr, flush=True)
    threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
