"""After a second Vite build and a plain static site (which kept 2 releases): switch and prune."""

import json
import re

import pytest

BASE = "/srv/portfolio/frontend"
STATE = "/var/tmp/onebox-test"


@pytest.fixture(scope="module")
def ids(host):
    with host.sudo():
        return {n: host.file(f"{STATE}/{n}").content_string.strip() for n in ("first", "second", "third")}


def assets_of(index_html):
    """The hashed files an index.html loads."""
    names = re.findall(r'(?:src|href)="/assets/([^"]+)"', index_html)
    assert names, index_html
    return set(names)


def release_assets(host, release):
    return assets_of(host.file(f"{BASE}/releases/{release}/index.html").content_string)


def test_each_release_has_its_own_id(ids):
    assert len(set(ids.values())) == 3, ids


def test_second_release_is_the_changed_vite_build(host, ids):
    scripts = [n for n in release_assets(host, ids["second"]) if n.endswith(".js")]
    assert len(scripts) == 1
    script = host.file(f"{BASE}/releases/{ids['second']}/assets/{scripts[0]}")
    assert "(second build)" in script.content_string


def test_current_is_the_plain_static_site_shipped_as_it_is(host, ids):
    assert host.file(f"{BASE}/current").linked_to == f"{BASE}/releases/{ids['third']}"
    assert "<title>plain static site</title>" in host.file(f"{BASE}/current/index.html").content_string
    names = host.check_output("cd %s/current && find . -type f | sort", BASE).split()
    assert names == [
        "./assets/site-5d41402a.js",
        "./assets/site-5d41402a.js.br",
        "./assets/site-5d41402a.js.gz",
        "./index.html",
        "./index.html.br",
        "./index.html.gz",
    ]


def test_history_and_disk_keep_the_last_two_releases(host, ids):
    lines = host.file("/srv/portfolio/history.jsonl").content_string.splitlines()
    live = [json.loads(line)["frontend"] for line in lines if line and json.loads(line)["status"] == "live"]
    assert live == [ids["first"], ids["second"], ids["third"]]
    on_disk = host.check_output("ls -A %s/releases", BASE).split()
    assert sorted(on_disk) == sorted([ids["second"], ids["third"]])


def test_previous_release_assets_stay_available(host, ids):
    """A browser still holding the second release's index.html finds every file it names."""
    previous = release_assets(host, ids["second"])
    only_previous = previous - release_assets(host, ids["third"])
    assert only_previous, "the releases share every asset: the test proves nothing"
    for name in previous:
        for suffix in ("", ".gz", ".br"):
            shared = host.file(f"{BASE}/assets/{name}{suffix}")
            original = host.file(f"{BASE}/releases/{ids['second']}/assets/{name}{suffix}")
            assert shared.is_file, name + suffix
            assert shared.sha256sum == original.sha256sum


def test_pruned_release_took_only_its_own_assets(host, ids):
    assert not host.file(f"{BASE}/releases/{ids['first']}").exists
    kept = set()
    for release in (ids["second"], ids["third"]):
        kept |= set(host.check_output("cd %s/releases/%s/assets && ls", BASE, release).split())
    assert set(host.check_output("cd %s/assets && ls", BASE).split()) == kept

    with host.sudo():
        first_only = assets_of(host.file(f"{STATE}/first-index.html").content_string) - kept
    assert first_only, "the first release shares every asset with the later ones: the test proves nothing"
    for name in first_only:
        for suffix in ("", ".gz", ".br"):
            assert not host.file(f"{BASE}/assets/{name}{suffix}").exists, name + suffix
