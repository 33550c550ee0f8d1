"""Staging mode (nginx_tls false) after a second frontend build."""

import pytest
from conftest import DOMAIN, asset_names

STATE = "/var/tmp/onebox-test"
SITE = f"http://{DOMAIN}"


def test_plain_http_serves_the_page_without_redirect_or_hsts(web):
    response = web.get(f"{SITE}/")
    assert response.status == 200
    assert "(second build)" in web.get(f"{SITE}/assets/{script_of(response.body)}").body
    assert "strict-transport-security" not in response.headers
    assert response.header("content-security-policy").startswith("default-src 'self';")
    assert response.header("cache-control") == "no-cache"


def script_of(index_html):
    return next(n for n in asset_names(index_html) if n.endswith(".js"))


def test_spa_fallback_over_http(web):
    response = web.get(f"{SITE}/some/client/route")
    assert response.status == 200
    assert '<div id="root"></div>' in response.body


def test_nothing_listens_on_443(web):
    rc, stderr = web.curl_rc(f"https://{DOMAIN}/")
    assert rc == 7, stderr  # Couldn't connect


def test_unknown_host_still_gets_its_connection_closed(web):
    rc, stderr = web.curl_rc(f"{SITE}/", "-H 'Host: other.example'")
    assert rc == 52, stderr


@pytest.fixture
def first_index(host):
    with host.sudo():
        return host.file(f"{STATE}/first-index.html").content_string


def test_first_build_assets_stay_served_after_the_second_build(web, first_index):
    """A browser that loaded the first build's index.html before the switch finds all its files."""
    current = web.get(f"{SITE}/").body
    assert current != first_index, "the second build did not switch current"
    old_only = set(asset_names(first_index)) - set(asset_names(current))
    assert old_only, "the builds share every asset: the test proves nothing"
    for name in asset_names(first_index):
        response = web.get(f"{SITE}/assets/{name}", "-H 'Accept-Encoding: br'")
        assert response.status == 200, name
        assert response.header("content-encoding") == "br"
        assert response.header("cache-control") == "public, max-age=31536000, immutable"


def test_media_imports_stay_private(web):
    assert web.get(f"{SITE}/media/imports/holdings.csv").status == 403
