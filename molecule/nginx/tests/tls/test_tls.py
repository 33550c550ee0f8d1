"""nginx with a certificate in place: HTTPS site, redirects, headers, TLS settings, routes."""

from types import SimpleNamespace

import pytest
from conftest import DOMAIN, asset_names

SITE = f"https://{DOMAIN}"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
IMMUTABLE = "public, max-age=31536000, immutable"


def test_whole_tree_passes_nginx_test_with_only_the_app_site_enabled(host):
    with host.sudo():
        assert host.run("nginx -t").rc == 0
        assert host.check_output("ls /etc/nginx/sites-enabled").split() == ["portfolio.conf"]
    enabled = host.file("/etc/nginx/sites-enabled/portfolio.conf")
    assert enabled.linked_to == "/etc/nginx/sites-available/portfolio.conf"
    assert host.service("nginx").is_enabled


def test_https_serves_the_react_index_without_caching_it(web):
    response = web.get(f"{SITE}/")
    assert response.status == 200
    assert '<div id="root"></div>' in response.body
    assert response.header("content-type").startswith("text/html")
    assert response.header("cache-control") == "no-cache"
    assert response.header("server") == "nginx"


def test_unknown_paths_fall_back_to_the_react_index(web):
    response = web.get(f"{SITE}/some/client/route")
    assert response.status == 200
    assert '<div id="root"></div>' in response.body
    assert response.header("cache-control") == "no-cache"


def test_http_redirects_to_https_keeping_path_and_query(web):
    response = web.get(f"http://{DOMAIN}/some/route?x=1")
    assert response.status == 301
    assert response.header("location") == f"https://{DOMAIN}/some/route?x=1"


def test_acme_challenges_are_answered_over_http_from_the_webroot(host, web):
    with host.sudo():
        host.run_expect([0], "mkdir -p /var/www/acme/.well-known/acme-challenge")
        host.run_expect([0], "echo token-content >/var/www/acme/.well-known/acme-challenge/test-token")
    try:
        response = web.get(f"http://{DOMAIN}/.well-known/acme-challenge/test-token")
        assert response.status == 200
        assert response.body.strip() == "token-content"
        assert web.get(f"http://{DOMAIN}/.well-known/acme-challenge/missing").status == 404
    finally:
        with host.sudo():
            host.run("rm -f /var/www/acme/.well-known/acme-challenge/test-token")


@pytest.mark.parametrize(
    ("url", "options"),
    [
        ("http://127.0.0.1/", ""),
        (f"http://{DOMAIN}/", "-H 'Host: other.example'"),
        (f"{SITE}/", "--http1.1 -H 'Host: other.example'"),
    ],
    ids=["http-by-ip", "http-foreign-host", "https-foreign-host"],
)
def test_unknown_host_gets_its_connection_closed(web, url, options):
    """nginx's 444: the connection closes with no answer at all."""
    rc, stderr = web.curl_rc(url, options)
    # curl 7.88 reports an empty reply; curl 8 over TLS sees the EOF before any response.
    closed = (rc == 52 and "Empty reply" in stderr) or (rc == 56 and "unexpected eof" in stderr)
    assert closed, f"curl rc {rc}: {stderr}"


def test_unknown_name_gets_no_certificate(web):
    rc, stderr = web.curl_rc("https://other.example/", "--resolve other.example:443:127.0.0.1")
    assert rc == 35, stderr  # the handshake is refused (ssl_reject_handshake)


@pytest.mark.parametrize("path", ["/", "/assets/", "/static/robots.txt", "/api/portfolios/", "/no/route"])
def test_security_headers_on_every_kind_of_response(web, path):
    response = web.get(f"{SITE}{path}")
    assert response.header("strict-transport-security") == "max-age=63072000"
    assert response.header("content-security-policy") == CSP
    assert response.header("x-content-type-options") == "nosniff"
    assert response.header("referrer-policy") == "strict-origin-when-cross-origin"


def test_no_hsts_over_plain_http(web):
    assert "strict-transport-security" not in web.get(f"http://{DOMAIN}/").headers


@pytest.fixture
def script(web):
    names = [n for n in asset_names(web.get(f"{SITE}/").body) if n.endswith(".js")]
    assert len(names) == 1
    return names[0]


@pytest.mark.parametrize("encoding", ["br", "gzip"])
def test_hashed_assets_are_immutable_and_served_precompressed(host, web, script, encoding):
    response = web.get(f"{SITE}/assets/{script}", f"-H 'Accept-Encoding: {encoding}'")
    assert response.status == 200
    assert response.header("content-encoding") == encoding
    assert response.header("cache-control") == IMMUTABLE
    assert "Accept-Encoding" in response.header("vary")
    assert response.header("content-type") in ("application/javascript", "text/javascript")
    # The precompressed file as it is on disk (not compressed on the fly: same bytes).
    suffix = {"br": ".br", "gzip": ".gz"}[encoding]
    served = host.check_output(
        f"curl -sk {'--resolve ' + DOMAIN + ':443:127.0.0.1'} -H 'Accept-Encoding: {encoding}' "
        f"{SITE}/assets/{script} | sha256sum | cut -c1-64"
    )
    assert served == host.file(f"/srv/portfolio/frontend/assets/{script}{suffix}").sha256sum


def test_hashed_assets_without_compression_are_the_original(host, web, script):
    response = web.get(f"{SITE}/assets/{script}", "-H 'Accept-Encoding: identity'")
    assert response.status == 200
    assert "content-encoding" not in response.headers
    original = host.file(f"/srv/portfolio/frontend/assets/{script}")
    assert int(response.header("content-length")) == original.size


def test_missing_asset_is_a_404_not_the_index(web):
    response = web.get(f"{SITE}/assets/index-missing.js")
    assert response.status == 404
    assert '<div id="root">' not in response.body


def test_django_static_files_hashed_long_cached_others_short(web):
    hashed = web.get(f"{SITE}/static/admin/css/base.0123456789ab.css")
    assert hashed.status == 200
    assert hashed.body == "body { color: #123; }\n"
    assert hashed.header("cache-control") == IMMUTABLE
    plain = web.get(f"{SITE}/static/robots.txt")
    assert plain.status == 200
    assert plain.header("cache-control") == "public, max-age=3600"


def test_media_served_but_csv_imports_are_private(web):
    photo = web.get(f"{SITE}/media/photo.svg")
    assert photo.status == 200
    assert photo.header("content-security-policy") == "default-src 'none'; img-src 'self'; sandbox"
    assert web.get(f"{SITE}/media/imports/holdings.csv").status == 403
    assert web.get(f"{SITE}/media/imports").status == 403
    assert web.get(f"{SITE}/media/imports/").status == 403


APP_SOCKET = "unix:/run/portfolio/gunicorn.sock"
# The local inventory runs the admin on a gunicorn service of its own (onebox_admin_service).
ADMIN_SOCKET = "unix:/run/portfolio-admin/gunicorn.sock"


@pytest.mark.parametrize(
    ("path", "socket"),
    [
        ("/api/portfolios/", APP_SOCKET),
        ("/admin/", ADMIN_SOCKET),
        ("/admin", ADMIN_SOCKET),
        ("/admin/login/", ADMIN_SOCKET),
        ("/health/", APP_SOCKET),
        ("/health", APP_SOCKET),
    ],
)
def test_app_paths_go_to_their_gunicorn_socket(host, web, path, socket):
    """No Django on this host: nginx tries the socket and answers 502 (not the React index)."""
    response = web.get(f"{SITE}{path}")
    assert response.status == 502
    with host.sudo():
        log = host.check_output("tail -n 1 /var/log/nginx/error.log")
    assert f"{socket}:" in log
    assert f'request: "GET {path} HTTP/2.0"' in log


def test_request_body_limit_is_2m(host):
    """A 3 MB upload is refused by nginx; 1.5 MB passes the limit and reaches for the app."""

    def post(size):
        return host.check_output(
            f"head -c {size} /dev/zero | curl -sk --resolve {DOMAIN}:443:127.0.0.1 -o /dev/null "
            f"-w '%{{http_code}}' --data-binary @- {SITE}/api/portfolios/1/import/"
        )

    assert post(3 * 1024 * 1024) == "413"
    assert post(1536 * 1024) == "502"


def openssl(host, *options):
    # The options are this module's own constants, so they go in unquoted.
    connect = "echo | timeout 10 openssl s_client -connect 127.0.0.1:443 -servername %s"
    result = host.run(f"{connect} {' '.join(options)} 2>&1", DOMAIN)
    # An h2 server speaks binary frames at once; s_client prints them.
    return SimpleNamespace(rc=result.rc, stdout=result.stdout_bytes.decode(errors="replace"))


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_tls_1_2_and_1_3_are_accepted_with_forward_secrecy(host, version):
    out = openssl(host, version, "-brief")
    assert out.rc == 0, out.stdout
    assert f"Protocol version: TLSv1.{version[-1]}" in out.stdout
    # TLS 1.3 suites are always ephemeral; a TLS 1.2 suite must name ECDHE.
    assert "ECDHE" in out.stdout or version == "-tls1_3", out.stdout


def test_tls_1_1_is_refused(host):
    # SECLEVEL=0 lets this client offer TLS 1.1 at all; the refusal must come from nginx.
    out = openssl(host, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
    assert out.rc != 0
    assert "alert protocol version" in out.stdout, out.stdout  # the server's alert, received
    assert "no protocols available" not in out.stdout, out.stdout


def test_tls_1_2_without_ecdhe_is_refused(host):
    out = openssl(host, "-tls1_2", "-cipher", "AES128-GCM-SHA256")
    assert out.rc != 0
    assert "handshake failure" in out.stdout, out.stdout


def test_http2_is_negotiated(host, web):
    assert web.get(f"{SITE}/").version == "2"
    out = openssl(host, "-alpn", "h2")
    assert "ALPN protocol: h2" in out.stdout, out.stdout


def test_tls_sessions_resume_from_the_cache_without_tickets(host):
    out = openssl(host, "-tls1_2", "-reconnect", "-no_ticket")
    assert out.stdout.count("Reused, TLSv1.2") >= 4, out.stdout
    full = openssl(host, "-tls1_2")
    assert "TLS session ticket:" not in full.stdout, full.stdout
