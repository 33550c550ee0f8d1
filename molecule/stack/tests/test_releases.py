"""Releases while clients keep asking: a deploy of a code change, a rollback, a failed deploy and a
rollback to a named release, each through the playbook a user runs (make deploy / make rollback),
each inside a load window that must see no failed or non-2xx response. Then what must never break a
release: bad input (stopped before any change), a second deploy at the same time (it waits, or
stops naming the first), and a controller killed at several points of a deploy (the next run
repairs it)."""

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import APP, ROOT, load_window
from scenario import background, distro_share, folded, playbook, words

CANARY = "/api/canary/"
RELEASES = f"/srv/{APP}/releases"
CANDIDATE_CHECK = 'failed at "Check that the release candidate answers the release checks"'
# What a failed release must leave exactly as it was.
LIVE_FILES = [
    f"/etc/{APP}/env",
    f"/etc/nginx/sites-available/{APP}.conf",
    f"/srv/{APP}/shared/static/staticfiles.json",
]


def current(host):
    return Path(host.file(f"/srv/{APP}/current").linked_to).name


def frontend_current(host):
    return Path(host.file(f"/srv/{APP}/frontend/current").linked_to).name


def history(host):
    with host.sudo():
        text = host.file(f"/srv/{APP}/history.jsonl").content_string
    return [json.loads(line) for line in text.splitlines() if line]


def live_digests(host):
    with host.sudo():
        return {path: host.file(path).sha256sum for path in LIVE_FILES}


def service_runs(host):
    """What the app's service runs, as the release program reads it off its gunicorn."""
    with host.sudo():
        return json.loads(host.check_output("onebox-release running --unit %s.service", APP))


def leftovers(host):
    """Units and directories a deploy must never leave behind."""
    with host.sudo():
        units = host.check_output(
            "systemctl list-units --all --plain --no-legend '%s-candidate@*' '%s-handover.service'", APP, APP
        )
        partial = host.run("ls -a %s /srv/%s/frontend/releases /srv/%s/venvs", RELEASES, APP, APP).stdout
    active = [line.split()[0] for line in units.splitlines() if " active " in f" {line} "]
    unfinished = [
        name for name in partial.split() if name.endswith(".partial") or name.startswith(".building")
    ]
    return active, unfinished


def shared_static(host):
    """Every file name under shared/static, where nginx serves /static/ from."""
    with host.sudo():
        return set(host.check_output("find /srv/%s/shared/static -type f -printf '%%P\\n'", APP).split())


def canary(site):
    response = site.get(CANARY)
    return response.status, response.body


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    """Copies of app/ (the real one stays untouched): one adds an API URL, one also cannot boot, and
    further one-line changes for the deploys that are interrupted."""
    base = tmp_path_factory.mktemp("apps")
    # One for each distro's chain of kill points (it starts at the first or the second point).
    names = ["changed", "broken", "killed-0", "killed-1"]
    ignore = shutil.ignore_patterns(".env", "db.sqlite3", "var", "__pycache__", ".pytest_cache")
    made = {}
    for name in names:
        copy = base / f"app-{name}"
        shutil.copytree(ROOT / "app", copy, ignore=ignore)
        with (copy / "config" / "urls.py").open("a") as f:
            f.write(
                "\nfrom django.http import HttpResponse  # noqa: E402\n\n"
                'urlpatterns.insert(0, path("api/canary/", lambda request: HttpResponse("canary")))\n'
            )
            if name not in ("changed", "broken"):
                f.write(f"# {name}\n")
        made[name] = copy
    # A new lock file: the deploy builds a virtualenv (the first kill point).
    with (made["killed-0"] / "requirements.lock").open("a") as f:
        f.write("# a new lock file\n")
    with (made["broken"] / "config" / "wsgi.py").open("a") as f:
        f.write('\nraise RuntimeError("a release whose workers cannot boot")\n')
    # The broken release's collectstatic output differs from the live one's (a file more, so a
    # manifest of its own): none of it may reach what the live release serves.
    extra_static = made["broken"] / "portfolios" / "static" / "portfolios" / "broken.css"
    extra_static.parent.mkdir(parents=True)
    extra_static.write_text("body { color: red; }\n")
    return made


@pytest.fixture(scope="module")
def frontend_copy(tmp_path_factory):
    """A copy of frontend/ whose page title differs, deployed with the code change: the deploy
    switches both halves, and the rollback must bring both back as the pair they were."""
    copy = tmp_path_factory.mktemp("frontends") / "frontend-changed"
    shutil.copytree(ROOT / "frontend", copy, ignore=shutil.ignore_patterns("node_modules", "dist"))
    (copy / "node_modules").symlink_to(ROOT / "frontend" / "node_modules")
    index = copy / "index.html"
    title = "<title>onebox portfolios"
    index.write_text(index.read_text().replace(title, f"{title} (changed)"))
    return copy


@pytest.fixture(scope="module")
def first(host):
    """The pair site.yml made, before any of these tests ran."""
    return current(host), frontend_current(host)


def test_a_deploy_of_a_code_change_fails_no_request_and_a_second_deploy_waits_for_it(
    site, host, copies, frontend_copy, first, tmp_path
):
    """A deploy switches both halves under load. While it holds the deploy lock, a second deploy of
    the same sources that may not wait stops, naming it; one that may wait does, says for whom, and
    then finds nothing left to change."""
    assert canary(site)[0] == 404
    sources = ["-e", f"django_source_dir={copies['changed']}", "-e", f"frontend_source_dir={frontend_copy}"]
    logs = {name: tmp_path / f"{name}.log" for name in ("first", "second")}
    runs = {}
    with load_window(site, "deploy of a code change", tmp=tmp_path) as load:
        try:
            runs["first"] = background("playbooks/deploy.yml", logs["first"], *sources)
            wait_until(
                lambda: lock_holder(host) is not None or runs["first"].poll() is not None,
                300,
                "the deploy never took the lock",
            )
            holder = lock_holder(host)
            runs["second"] = background("playbooks/deploy.yml", logs["second"], *sources)
            impatient = playbook("playbooks/deploy.yml", *sources, "-e", "release_lock_wait=1")
            still = lock_holder(host)
            for run in runs.values():
                run.wait(timeout=900)
        finally:
            for run in runs.values():
                kill(run, f"frontend_source_dir={frontend_copy}$")
    out = {name: folded(log.read_text()) for name, log in logs.items()}
    assert runs["first"].returncode == 0, out["first"][-4000:]
    assert holder is not None, f"the deploy ended before a second one could meet it: {out['first'][-3000:]}"
    # Else the window was missed: the first deploy ended before the others had asked for the lock.
    assert (still or {}).get("run") == holder["run"], f"the lock after the others asked: {still}"
    assert current(host) != first[0]
    assert frontend_current(host) != first[1]
    assert canary(site) == (200, b"canary")
    assert b"(changed)</title>" in site.get("/").body
    last = history(host)[-1]
    assert (last["app"], last["frontend"]) == (current(host), frontend_current(host))
    assert load["failed"] == 0, json.dumps(load)
    assert load["ok"] > 0
    # The service runs exactly what current says; nothing of the handover is left.
    assert service_runs(host)["release"] == current(host)
    assert leftovers(host) == ([], [])
    # The one that may not wait stopped, naming the run that holds the lock and since when.
    refused = words(impatient)
    assert impatient.returncode != 0, refused[-3000:]
    assert f"is being deployed by {holder['holder']} since {holder['since']}" in refused, refused[-3000:]
    # The other waited for that run, then found the release it would have made already live.
    assert runs["second"].returncode == 0, out["second"][-4000:]
    assert f"(since {holder['since']}, run {holder['run']}) to end" in out["second"], out["second"][-3000:]
    assert "changed=0 " in out["second"], out["second"][-3000:]
    assert last["run"] == holder["run"]


def test_a_rollback_goes_back_to_the_pair_and_fails_no_request(site, host, first, tmp_path):
    with load_window(site, "rollback", tmp=tmp_path) as load:
        result = playbook("playbooks/rollback.yml")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
    assert (current(host), frontend_current(host)) == first
    assert canary(site)[0] == 404
    assert b"(changed)</title>" not in site.get("/").body
    assert load["failed"] == 0, json.dumps(load)
    assert load["ok"] > 0
    last = history(host)[-1]
    assert (last["app"], last["frontend"], last["status"]) == (*first, "live")


def test_a_failed_deploy_names_its_check_serves_on_and_changes_nothing_live(
    site, host, copies, first, tmp_path
):
    with host.sudo():
        before = set(host.file(RELEASES).listdir())
    digests = live_digests(host)
    static_before = shared_static(host)
    pages = {path: site.get(path).body for path in ("/", "/api/portfolios/", "/static/admin/css/base.css")}
    with load_window(site, "failed deploy", tmp=tmp_path) as load:
        result = playbook("playbooks/deploy.yml", "-e", f"django_source_dir={copies['broken']}")
    out = words(result)
    assert result.returncode != 0, out[-4000:]
    assert CANDIDATE_CHECK in out, out[-4000:]
    # The message ends with the cause, not with the start of a traceback.
    assert "a release whose workers cannot boot" in out, out[-4000:]
    assert current(host) == first[0]
    with host.sudo():
        (failed,) = set(host.file(RELEASES).listdir()) - before
        mark = host.file(f"{RELEASES}/{failed}/FAILED").content_string
    assert "Check that the release candidate answers the release checks" in mark
    assert live_digests(host) == digests
    # Its collectstatic output (a manifest and a file of its own) stayed in the release.
    with host.sudo():
        own = host.check_output("find %s/%s/.static -name 'broken*.css'", RELEASES, failed)
    assert own.strip(), "the broken release's collectstatic did not run"
    assert shared_static(host) == static_before
    assert site.get("/static/portfolios/broken.css").status == 404
    # The site answers byte for byte as before.
    assert {path: site.get(path).body for path in pages} == pages
    assert history(host)[-1]["status"] == "failed"
    assert load["failed"] == 0, json.dumps(load)
    assert load["ok"] > 0


def test_a_rollback_to_a_named_release_goes_there(site, host, first, tmp_path):
    """The code change is still on disk: naming it brings it back (a roll forward)."""
    changed = next(
        e["app"] for e in reversed(history(host)) if e["status"] == "live" and e["app"] != first[0]
    )
    with load_window(site, "rollback to a named release", tmp=tmp_path) as load:
        result = playbook("playbooks/rollback.yml", "-e", f"release={changed}")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
    assert current(host) == changed
    assert canary(site) == (200, b"canary")
    # The frontend it last went live with comes back with it.
    live = [e for e in history(host) if e["status"] == "live"]
    paired = next(e["frontend"] for e in reversed(live) if e["app"] == changed)
    assert frontend_current(host) == paired != first[1]
    assert load["failed"] == 0, json.dumps(load)


def test_a_rollback_to_a_release_that_is_not_there_changes_nothing(host):
    before = current(host)
    result = playbook("playbooks/rollback.yml", "-e", "release=0000000000000000")
    out = words(result)
    assert result.returncode != 0, out[-4000:]
    assert "django_rollback_release" in out, out[-4000:]
    assert "is not a release on this host" in out, out[-4000:]
    assert current(host) == before


# Shared out between the distros as the tags are: each case runs in every full run. What each role
# refuses is tested case by case in tests/roles/; these prove that the preflight stops the whole
# site.yml before its first change.
@pytest.mark.parametrize(
    ("extra", "variable"),
    distro_share(
        [
            pytest.param({"onebox_domain": "bad_domain!"}, "onebox_domain", id="bad domain"),
            pytest.param({"onebox_admin_email": "not-an-email"}, "onebox_admin_email", id="bad email"),
            pytest.param({"django_gunicorn_workers": 0}, "django_gunicorn_workers", id="no workers"),
            pytest.param(
                {"nginx_client_max_body_size": "lots"}, "nginx_client_max_body_size", id="bad body size"
            ),
            pytest.param({"monitoring_enabled": "maybe"}, "monitoring_enabled", id="type only, last role"),
        ]
    ),
)
def test_bad_input_stops_site_yml_before_any_change(host, extra, variable):
    digests = live_digests(host)
    result = playbook("site.yml", "-e", json.dumps(extra))
    out = words(result)
    assert result.returncode != 0, out[-4000:]
    assert variable in out, out[-4000:]
    assert "changed=0" in out, out[-4000:]
    # Stopped by the preflight, not by the role when its turn came (the host is converged, so a
    # later stop would report changed=0 as well).
    assert "PLAY [Provision the onebox host]" not in out, out[-4000:]
    assert live_digests(host) == digests


def kill(run, pattern):
    """A playbook started in the background, killed (SIGKILL, as a controller dies) if it still
    runs. Mitogen's connection process runs in a session of its own and outlives the controller:
    what matches `pattern` goes too, as it would with the operator's machine."""
    if run.poll() is None:
        os.killpg(run.pid, signal.SIGKILL)
    run.wait(timeout=60)
    subprocess.run(["pkill", "-KILL", "-f", pattern], check=False)


def lock_record(host):
    """The deploy lock's record, a dead run's too (its "dead" says why), or None."""
    with host.sudo():
        return json.loads(host.check_output("onebox-release lock show --app %s", APP))["held"]


def lock_holder(host):
    """The live run that holds the deploy lock, or None."""
    held = lock_record(host)
    return held if held and not held.get("dead") else None


def wait_until(condition, seconds, message, interval=0.1):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(message)


def candidate_running(host):
    with host.sudo():
        return " active " in host.run("systemctl list-units --plain --no-legend '%s-candidate@*'", APP).stdout


def handover_running(host):
    with host.sudo():
        return host.run("systemctl is-active %s-handover.service", APP).stdout.strip() == "active"


def switched_from(before):
    return lambda host: current(host) != before


KILL_POINTS = [
    "while the virtualenv is built",
    "while the candidate is checked",
    "right after the switch",
    "during the handover",
]


def die_at(host, point, source, log):
    """A deploy of `source` whose controller is killed (SIGKILL, its SSH gone with it) once it holds
    the deploy lock and the host is at `point`; what it said. Its output goes to a file: when it
    ends before the point, the file says why."""
    before = current(host)
    earlier = (lock_record(host) or {}).get("run")
    conditions = {
        "while the candidate is checked": candidate_running,
        "right after the switch": switched_from(before),
        "during the handover": handover_running,
        "while the virtualenv is built": lambda h: (
            h.run("ls -a /srv/%s/venvs | grep -q building", APP).rc == 0
        ),
    }
    # What an earlier dead run left (its handover, say) is not this run's point: the point counts
    # once this run holds the lock.
    holds = []

    def at_point():
        if not holds:
            held = lock_holder(host)
            if held is None or held["run"] == earlier:
                return False
            holds.append(held["run"])
        return conditions[point](host)

    dying = background("playbooks/deploy.yml", log, "-e", f"django_source_dir={source}")
    try:
        # A bound, not a timing: a deploy that builds its virtualenv again took more than 300 s on a
        # shared machine whose hypervisor took 60 % of the CPU.
        wait_until(lambda: dying.poll() is not None or at_point(), 900, f"never reached: {point}", 0.05)
    finally:
        reached = dying.poll() is None
        kill(dying, f"django_source_dir={source}$")
    said = folded(log.read_text())
    assert reached, f"the deploy finished before it was {point}:\n{said[-3000:]}"
    return said


def test_controllers_killed_mid_deploy_are_repaired_by_the_next_run(site, host, copies, tmp_path):
    """The controller dies at a point of a deploy; the next deploy of the same release finishes the
    job: the service runs exactly what current says, with the live environment, and no candidate,
    handover or half-unpacked release of a dead run is left.

    Each distro the matrix runs this scenario on takes its share of the points (every point runs
    in every full run, as the alert cases do), and its deploys die one after the other: each takes
    over the lock of the one killed before it, picks up its work (a virtualenv half built, a
    candidate half checked) and is killed at the next point; one more, under load, repairs the
    last. One repair for the share, so the 50-minute budget keeps its headroom."""
    points = distro_share(KILL_POINTS)
    source = copies[f"killed-{KILL_POINTS.index(points[0])}"]
    for number, point in enumerate(points):
        said = die_at(host, point, source, tmp_path / f"dying-deploy-{number}.log")
        if number:
            assert "took over the lock of" in said, f"killed {point}: {said[-3000:]}"
    with load_window(site, f"repair after a kill {', then '.join(points)}", tmp=tmp_path) as load:
        repair = playbook("playbooks/deploy.yml", "-e", f"django_source_dir={source}")
    out = words(repair)
    assert repair.returncode == 0, out[-4000:]
    assert "took over the lock of" in out, out[-3000:]
    runs = service_runs(host)
    assert runs["active"]
    assert runs["release"] == current(host)
    with host.sudo():
        env = host.file(f"/etc/{APP}/env").sha256sum
    assert runs["env"] == env[:16]
    assert leftovers(host) == ([], [])
    assert site.get("/health/").status == 200
    assert load["failed"] == 0, json.dumps(load)
