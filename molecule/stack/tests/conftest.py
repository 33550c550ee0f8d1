"""The site as its clients see it: HTTP(S) from this machine to the test host, by the site's name."""

import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
LOADPROBE = ROOT / "bench" / "loadprobe.py"
MEASUREMENTS = ROOT / ".cache" / "measurements.jsonl"
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "molecule" / "shared"))

from loadprobe import ResolvedHTTPSConnection  # noqa: E402
from scenario import address as docker_address  # noqa: E402

DOMAIN = "onebox.test"
APP = "portfolio"
ISSUER_ROOT = "/etc/pebble/issuer-root.pem"


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self):
        return json.loads(self.body)


class Site:
    def __init__(self, address: str, cafile: Path):
        self.address = address
        self.cafile = cafile

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cafile))

    def request(self, method, path, *, scheme="https", host=DOMAIN, headers=None, body=None, timeout=15):
        if scheme == "https":
            conn = ResolvedHTTPSConnection(host, self.address, 443, timeout=timeout, context=self.context())
        else:
            conn = http.client.HTTPConnection(self.address, 80, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers={"Host": host, **(headers or {})})
            response = conn.getresponse()
            return Response(response.status, response.headers, response.read())
        finally:
            conn.close()

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post_json(self, path, data, **kwargs):
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        return self.request("POST", path, body=json.dumps(data), headers=headers, **kwargs)

    def peer_certificate(self, name=DOMAIN) -> dict:
        with (
            socket.create_connection((self.address, 443), timeout=10) as raw,
            self.context().wrap_socket(raw, server_hostname=name) as tls,
        ):
            return tls.getpeercert()


@pytest.fixture(scope="module")
def site(host, tmp_path_factory):
    """The site at the test host's address, trusting the root Pebble issues from (read afresh:
    Pebble makes a new root whenever it starts)."""
    cafile = tmp_path_factory.mktemp("pebble") / "issuer-root.pem"
    with host.sudo():
        cafile.write_text(host.file(ISSUER_ROOT).content_string)
    # The host's own address, as this machine reaches it (the container the test created).
    address = docker_address(host)
    return Site(address, cafile)


def psql(host, sql: str) -> str:
    """A query as the app's OS user, by peer authentication on the socket: what the app itself sees."""
    with host.sudo():
        return host.check_output("runuser -u %s -- psql -d %s -AtX -c %s", APP, APP, sql)


@contextmanager
def load_window(site, name, paths=("/health/", "/api/portfolios/", "/"), concurrency=4, rate=25, tmp=None):
    """Clients keep requesting the site (each request on a new TLS connection, `rate` a second in
    all) for as long as the block runs; the result dict is filled when the block ends. Bounded: it
    stops by itself after ten minutes whatever happens. The rate is fixed because the load runs on
    the same two cores as the host it measures: unthrottled, its TLS handshakes starve the workers
    that boot during a switch, and the window measures the load generator instead of the site.
    25 a second is one request every 40 ms: a switch that drops connections for even a tenth of a
    second meets a few of them. At 100 a second the windows (handshakes, the client, nginx and the
    app's workers) took about a third of CI's two cores while they ran, for no more proof; the
    latency figures under load are make bench's (bench/), not these tests'."""
    tmp = Path(tmp or "/tmp")
    stop, ready = tmp / f"{name}.stop", tmp / f"{name}.ready"
    for f in (stop, ready):
        f.unlink(missing_ok=True)
    command = [
        sys.executable,
        str(LOADPROBE),
        "--resolve",
        f"{DOMAIN}:{site.address}",
        "--cafile",
        str(site.cafile),
    ]
    for path in paths:
        command += ["--url", f"https://{DOMAIN}{path}"]
    # A request fails when nginx fails it or the connection does, not when it is slow: the client
    # waits as long as nginx waits for the app (nginx_proxy_read_timeout, 60 s). Latency is reported.
    command += ["--concurrency", str(concurrency), "--rate", str(rate), "--timeout", "60"]
    command += ["--stop-file", str(stop), "--ready-file", str(ready)]
    command += ["--max-seconds", "600"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    result: dict = {}
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "the load never got a first successful response"
            time.sleep(0.1)
        yield result
        time.sleep(1)  # the window includes what follows the change at once
    finally:
        stop.touch()
        out, err = proc.communicate(timeout=300)
    assert out.strip(), f"the load client printed no summary: {err}"
    result.update(json.loads(out))
    record = {"window": name, "distro": os.environ.get("MOLECULE_DISTRO", ""), **result}
    MEASUREMENTS.parent.mkdir(exist_ok=True)
    with MEASUREMENTS.open("a") as f:
        f.write(json.dumps(record) + "\n")
    print(
        f"\n[load] {name}: {result['requests']} requests, {result['failed']} failed, "
        f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, max {result['max_ms']} ms, "
        f"failing for {result['failing_s']} s",
        result["errors"] or "",
    )
