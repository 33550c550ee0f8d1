#!/usr/bin/env python3
"""A bounded HTTP(S) load that counts every failed or non-2xx response and reports latency.

Standard library only, so it runs on a freshly provisioned host as well as on the controller.
It stops by itself: when --stop-file appears, after --max-seconds, or after --max-requests,
whichever comes first. The summary is one JSON object on stdout:

  {"requests": 5120, "ok": 5120, "failed": 0, "errors": {}, "p50_ms": 3.1, "p99_ms": 18.4, ...}

Example (inside the host, against nginx):
  python3 loadprobe.py --url https://onebox.test/health/ --url https://onebox.test/api/portfolios/ \
      --resolve onebox.test:127.0.0.1 --cafile /etc/pebble/issuer-root.pem --concurrency 4 \
      --stop-file /tmp/stop --max-seconds 300
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import ssl
import threading
import time
from collections import Counter
from urllib.parse import urlsplit


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", action="append", required=True, help="URL to request (repeat to rotate)")
    p.add_argument("--resolve", default="", help="HOST:ADDRESS, like curl's --resolve, without the port")
    p.add_argument("--cafile", default=None, help="CA bundle for HTTPS (default: the system's)")
    p.add_argument("--header", action="append", default=[], help="extra 'Name: value' header")
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--max-seconds", type=float, default=120.0)
    p.add_argument("--max-requests", type=int, default=1_000_000)
    p.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="requests a second, all clients together (default: unthrottled)",
    )
    p.add_argument("--stop-file", default=None, help="stop when this file exists")
    p.add_argument("--ready-file", default=None, help="touched once the first request succeeded")
    p.add_argument("--timeout", type=float, default=10.0, help="per-request timeout, seconds")
    return p.parse_args(argv)


class ResolvedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a given address while SNI and the certificate check use the site's name (curl's --resolve)."""

    def __init__(self, name, address, port, **kwargs):
        super().__init__(name, port, **kwargs)
        self.address = address

    def connect(self):
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class Probe:
    def __init__(self, args):
        self.args = args
        self.targets = [urlsplit(u) for u in args.url]
        self.resolve = dict([args.resolve.split(":", 1)]) if args.resolve else {}
        self.context = ssl.create_default_context(cafile=args.cafile)
        self.headers = dict(h.split(":", 1) for h in args.header)
        self.headers = {k.strip(): v.strip() for k, v in self.headers.items()}
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.timeline: list[tuple[float, float]] = []
        self.errors: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.issued = 0
        # When the first and the last failed request ended: how long the site was failing.
        self.failing: list[float] = []
        self.stop = threading.Event()
        self.started = time.monotonic()
        self.first_ok = threading.Event()

    def connect(self, target):
        address = self.resolve.get(target.hostname, target.hostname)
        if target.scheme == "https":
            return ResolvedHTTPSConnection(
                target.hostname, address, target.port or 443, timeout=self.args.timeout, context=self.context
            )
        return http.client.HTTPConnection(address, target.port or 80, timeout=self.args.timeout)

    def take_turn(self) -> bool:
        """Claim the next request; with --rate, wait for its slot on the schedule first."""
        with self.lock:
            if self.issued >= self.args.max_requests:
                return False
            self.issued += 1
            slot = self.started + self.issued / self.args.rate if self.args.rate > 0 else 0
        delay = slot - time.monotonic()
        if delay > 0:
            self.stop.wait(delay)
        return not self.stop.is_set()

    def worker(self, index: int):
        n = index
        while not self.stop.is_set() and self.take_turn():
            target = self.targets[n % len(self.targets)]
            n += 1
            path = target.path or "/"
            if target.query:
                path += "?" + target.query
            headers = {"Host": target.netloc, "Connection": "close", **self.headers}
            start = time.monotonic()
            try:
                conn = self.connect(target)
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                conn.close()
                status = response.status
            except Exception as exc:  # every failure counts, by its kind
                with self.lock:
                    self.errors[type(exc).__name__] += 1
                    self.note_failure()
                continue
            elapsed = (time.monotonic() - start) * 1000
            with self.lock:
                self.statuses[status] += 1
                if not 200 <= status < 300:
                    self.note_failure()
                    continue
                self.latencies.append(elapsed)
                self.timeline.append((round(start - self.started, 2), round(elapsed, 1)))
                if not self.first_ok.is_set():
                    self.first_ok.set()
                    if self.args.ready_file:
                        open(self.args.ready_file, "w").close()

    def note_failure(self):
        """Called with the lock held."""
        now = time.monotonic()
        self.failing[:] = [self.failing[0] if self.failing else now, now]

    def run(self) -> dict:
        threads = [
            threading.Thread(target=self.worker, args=(i,), daemon=True) for i in range(self.args.concurrency)
        ]
        started = self.started = time.monotonic()
        self.started_wall = time.time()
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            if time.monotonic() - started > self.args.max_seconds:
                break
            if self.args.stop_file and os.path.exists(self.args.stop_file):
                break
            time.sleep(0.05)
        self.stop.set()
        for t in threads:
            t.join(self.args.timeout + 1)
        return self.summary(time.monotonic() - started)

    def summary(self, seconds: float) -> dict:
        lat = sorted(self.latencies)

        def pct(q):
            return round(lat[min(len(lat) - 1, int(q * len(lat)))], 1) if lat else None

        ok = len(lat)
        non_2xx = sum(c for s, c in self.statuses.items() if not 200 <= s < 300)
        errors = sum(self.errors.values())
        return {
            "requests": ok + non_2xx + errors,
            "ok": ok,
            "failed": non_2xx + errors,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "errors": dict(self.errors),
            "seconds": round(seconds, 2),
            "rps": round((ok + non_2xx + errors) / seconds, 1) if seconds else 0,
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "max_ms": round(lat[-1], 1) if lat else None,
            "failing_s": round(self.failing[1] - self.failing[0], 2) if self.failing else 0,
            # The slowest answers, each as [seconds after the load started, milliseconds it took]:
            # when they cluster, the moment tells which step of a deploy they waited on.
            "started_at": round(self.started_wall, 3),
            "slowest": sorted(self.timeline, key=lambda sample: -sample[1])[:20],
        }


def main(argv=None) -> int:
    args = parse_args(argv)
    print(json.dumps(Probe(args).run()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
