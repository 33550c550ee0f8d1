"""Releases while clients keep asking: a deploy of a code change, a rollback, a failed deploy and a
rollback to a named release, each through the playbook a user runs (make deploy / make rollback),
each inside a load window that must see no failed or non-2xx response."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import APP, ROOT, load_window

CANARY = "/api/canary/"
RELEASES = f"/srv/{APP}/releases"
CANDIDATE_CHECK = 'failed at "Check that the release candidate answers the release checks"'


def playbook(name, *extra):
    """ansible-playbook against this scenario's host, as `make deploy` runs it against an inventory."""
    inventory = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
    return subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(ROOT / "playbooks" / name), *extra],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def current(host):
    return Path(host.file(f"/srv/{APP}/current").linked_to).name


def canary(site):
    response = site.get(CANARY)
    return response.status, response.body


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    """Two copies of app/ (the real one stays untouched): one adds an API URL, the other also cannot boot."""
    base = tmp_path_factory.mktemp("apps")
    changed, broken = base / "app-changed", base / "app-broken"
    ignore = shutil.ignore_patterns(".env", "db.sqlite3", "var", "__pycache__", ".pytest_cache")
    for copy in (changed, broken):
        shutil.copytree(ROOT / "app", copy, ignore=ignore)
        with (copy / "config" / "urls.py").open("a") as f:
            f.write(
                "\nfrom django.http import HttpResponse  # noqa: E402\n\n"
                'urlpatterns.insert(0, path("api/canary/", lambda request: HttpResponse("canary")))\n'
            )
    with (broken / "config" / "wsgi.py").open("a") as f:
        f.write('\nraise RuntimeError("a release whose workers cannot boot")\n')
    return {"changed": changed, "broken": broken}


@pytest.fixture(scope="module")
def first(host):
    """The release site.yml made, before any of these tests ran."""
    return current(host)


def test_a_deploy_of_a_code_change_fails_no_request(site, host, copies, first, tmp_path):
    assert canary(site)[0] == 404
    with load_window(site, "deploy of a code change", tmp=tmp_path) as load:
        result = playbook("deploy.yml", "-e", f"django_source_dir={copies['changed']}")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
    assert current(host) != first
    assert canary(site) == (200, b"canary")
    assert load["failed"] == 0, json.dumps(load)
    assert load["ok"] > 0


def test_a_rollback_fails_no_request(site, host, first, tmp_path):
    with load_window(site, "rollback", tmp=tmp_path) as load:
        result = playbook("rollback.yml")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
    assert current(host) == first
    assert canary(site)[0] == 404
    assert load["failed"] == 0, json.dumps(load)
    assert load["ok"] > 0


def test_a_failed_deploy_names_its_check_serves_on_and_keeps_it_marked(site, host, copies, first, tmp_path):
    with host.sudo():
        before = set(host.file(RELEASES).listdir())
    with load_window(site, "failed deploy", tmp=tmp_path) as load:
        result = playbook("deploy.yml", "-e", f"django_source_dir={copies['broken']}")
    out = result.stdout + result.stderr
    assert result.returncode != 0, out[-4000:]
    assert CANDIDATE_CHECK in " ".join(out.split()), out[-4000:]
    assert current(host) == first
    with host.sudo():
        (failed,) = set(host.file(RELEASES).listdir()) - before
        mark = host.file(f"{RELEASES}/{failed}/FAILED").content_string
    assert "Check that the release candidate answers the release checks" in mark
    assert load["failed"] == 0, json.dumps(load)
    assert load["ok"] > 0


def test_a_rollback_to_a_named_release_goes_there(site, host, first, tmp_path):
    """The code change is still on disk: naming it brings it back (a roll forward)."""
    with host.sudo():
        log = host.file(f"/srv/{APP}/releases.log").content_string
    history = [line.split()[1] for line in log.splitlines()]
    changed = next(r for r in reversed(history) if r != first)
    with load_window(site, "rollback to a named release", tmp=tmp_path) as load:
        result = playbook("rollback.yml", "-e", f"release={changed}")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
    assert current(host) == changed
    assert canary(site) == (200, b"canary")
    assert load["failed"] == 0, json.dumps(load)


def test_a_rollback_to_a_release_that_is_not_there_changes_nothing(host):
    before = current(host)
    result = playbook("rollback.yml", "-e", "release=0000000000000000")
    out = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0, out[-4000:]
    assert "django_rollback_release" in out, out[-4000:]
    assert "is not a release on this host" in out, out[-4000:]
    assert current(host) == before
