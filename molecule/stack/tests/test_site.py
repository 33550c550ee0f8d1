"""The whole site after one site.yml run on a fresh host (and an idempotent second one)."""

import gzip
import re
import socket
import ssl
import time
import uuid
from decimal import Decimal
from http.client import RemoteDisconnected

import pytest
from conftest import APP, DOMAIN, psql

IMMUTABLE = "public, max-age=31536000, immutable"


def test_https_serves_a_certificate_pebble_issued_for_the_domain(site):
    cert = site.peer_certificate()
    names = [value for kind, value in cert["subjectAltName"] if kind == "DNS"]
    assert names == [DOMAIN]
    issuer = dict(item for rdn in cert["issuer"] for item in rdn)
    assert "Pebble" in issuer.get("commonName", ""), issuer


def test_a_client_without_pebbles_root_refuses_the_certificate(site):
    """The chain really is Pebble's, not something any client would accept."""
    system_only = ssl.create_default_context()
    with (
        socket.create_connection((site.address, 443), timeout=10) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        system_only.wrap_socket(raw, server_hostname=DOMAIN)


def test_http_redirects_to_https(site):
    response = site.get("/api/portfolios/?x=1", scheme="http")
    assert response.status == 301
    assert response.headers["Location"] == f"https://{DOMAIN}/api/portfolios/?x=1"


def test_unknown_host_gets_no_answer(site):
    with pytest.raises(RemoteDisconnected):
        site.get("/", scheme="http", host="unknown.example")


def test_unknown_name_gets_no_certificate(site):
    with pytest.raises(ssl.SSLError):
        site.peer_certificate(name="unknown.example")


def test_react_page_is_served_uncached_and_its_assets_immutable_and_precompressed(site):
    index = site.get("/")
    assert index.status == 200
    assert index.headers["Cache-Control"] == "no-cache"
    html = index.body.decode()
    assert '<div id="root"></div>' in html
    scripts = re.findall(r'src="(/assets/[^"]+\.js)"', html)
    assert scripts, html

    plain = site.get(scripts[0])
    assert plain.status == 200
    assert plain.headers["Cache-Control"] == IMMUTABLE
    assert plain.headers.get("Content-Encoding") is None

    brotli = site.get(scripts[0], headers={"Accept-Encoding": "br"})
    assert brotli.headers["Content-Encoding"] == "br"
    assert brotli.headers["Cache-Control"] == IMMUTABLE
    assert len(brotli.body) < len(plain.body) / 2

    gzipped = site.get(scripts[0], headers={"Accept-Encoding": "gzip"})
    assert gzipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(gzipped.body) == plain.body


def test_security_headers_on_the_page(site):
    headers = site.get("/").headers
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]


def test_health_answers_through_nginx(site):
    response = site.get("/health/")
    assert response.status == 200
    assert response.json()["database"] == "ok"


def test_api_round_trip_stores_a_row_in_postgresql(site, host):
    portfolios = site.get("/api/portfolios/").json()
    demo = next(p for p in portfolios if p["name"] == "Demo portfolio")
    symbol = "T" + uuid.uuid4().hex[:6].upper()
    created = site.post_json(
        "/api/holdings/", {"portfolio": demo["id"], "symbol": symbol, "quantity": "3", "cost_basis": "30.00"}
    )
    assert created.status == 201, created.body
    row = psql(host, f"SELECT quantity, cost_basis FROM portfolios_holding WHERE symbol = '{symbol}'")
    quantity, cost_basis = row.split("|")
    assert (Decimal(quantity), Decimal(cost_basis)) == (Decimal(3), Decimal(30)), row
    detail = site.get(f"/api/portfolios/{demo['id']}/").json()
    assert symbol in [h["symbol"] for h in detail["holdings"]]


def test_admin_login_page_is_served_by_django_with_its_static_files(site):
    login = site.get("/admin/login/")
    assert login.status == 200
    css = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', login.body.decode())
    assert css, "the admin's stylesheet should have a hashed name (ManifestStaticFilesStorage)"
    assert site.get(css.group(1)).status == 200


def test_the_admin_is_served_by_its_own_gunicorn_service(site, host):
    """nginx sends /admin/ to <app>-admin.service (its own socket, workers and timeout), the API
    to the app's service: each one's access log has its own request."""
    marker = uuid.uuid4().hex
    assert site.get(f"/admin/login/?probe={marker}").status == 200
    assert site.get(f"/api/portfolios/?probe={marker}").status == 200
    deadline = time.monotonic() + 15
    while True:
        with host.sudo():
            admin = host.check_output("journalctl --no-pager -o cat -u %s-admin.service -n 400", APP)
            app = host.check_output("journalctl --no-pager -o cat -u %s.service -n 400", APP)
        # The journal may lag the response by a moment.
        if (marker in admin and marker in app) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    pid = host.check_output("systemctl show -P MainPID %s-admin.service", APP)
    with host.sudo():
        argv = host.file(f"/proc/{pid}/cmdline").content_string.split("\0")
    assert f"/admin/login/?probe={marker}" in admin
    assert f"/api/portfolios/?probe={marker}" not in admin
    assert f"/api/portfolios/?probe={marker}" in app
    assert f"/admin/login/?probe={marker}" not in app
    assert argv[argv.index("--timeout") + 1] == "120"


def test_nothing_but_nginx_and_sshd_listens_on_tcp_beyond_loopback(host):
    """The monitoring stack listens on 127.0.0.1 only (test_monitoring.py names each port)."""
    with host.sudo():
        listeners = host.check_output("ss -Htlnp")
    loopback = re.compile(r"\s(127\.[\d.]+|\[::1\]):\d+\s")
    public = [line for line in listeners.splitlines() if not loopback.search(line)]
    programs = set(re.findall(r'users:\(\("([^"]+)"', "\n".join(public)))
    # Pebble is the test's ACME server on this host, not part of the site.
    assert programs <= {"nginx", "sshd", "pebble"}, listeners
    # A listener whose program ss cannot name (another user's, without CAP_SYS_PTRACE) is not let through.
    assert all('users:(("' in line for line in public), public
    assert not re.search(r":5432\b", listeners)
    assert host.socket(f"unix:///run/{APP}/gunicorn.sock").is_listening
