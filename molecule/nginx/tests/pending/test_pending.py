"""TLS wanted, certificate not there yet (certbot runs after nginx on a fresh host)."""

from conftest import DOMAIN


def test_whole_tree_passes_without_the_certificate(host):
    assert not host.file(f"/etc/letsencrypt/live/{DOMAIN}/fullchain.pem").exists
    with host.sudo():
        assert host.run("nginx -t").rc == 0
    assert "listen 443" not in host.file("/etc/nginx/sites-available/portfolio.conf").content_string


def test_http_redirects_to_https(web):
    response = web.get(f"http://{DOMAIN}/some/route")
    assert response.status == 301
    assert response.header("location") == f"https://{DOMAIN}/some/route"


def test_acme_challenges_are_answered(host, web):
    with host.sudo():
        host.run_expect([0], "mkdir -p /var/www/acme/.well-known/acme-challenge")
        host.run_expect([0], "echo pending-token >/var/www/acme/.well-known/acme-challenge/pending")
    try:
        response = web.get(f"http://{DOMAIN}/.well-known/acme-challenge/pending")
        assert response.status == 200
        assert response.body.strip() == "pending-token"
    finally:
        with host.sudo():
            host.run("rm -f /var/www/acme/.well-known/acme-challenge/pending")


def test_nothing_listens_on_443_yet(web):
    rc, stderr = web.curl_rc(f"https://{DOMAIN}/")
    assert rc == 7, stderr  # Couldn't connect


def test_unknown_host_gets_its_connection_closed(web):
    rc, stderr = web.curl_rc(f"http://{DOMAIN}/", "-H 'Host: other.example'")
    assert rc == 52, stderr
