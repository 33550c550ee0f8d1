"""The django role: the deployed app answers, stores data, survives a kill, and releases behave.

By the time this runs, the host has had the converge (the bundled app and a second project made by
`django-admin startproject`), an idempotent re-run, and side_effect.yml's code-change release.
"""

import json
import os
import re
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))

from app_api import post_holding, request

APP = "portfolio"
ROOT = f"/srv/{APP}"
SOCKET = f"/run/{APP}/gunicorn.sock"
# Set in converge.yml's django_env_extra; every character in it is one a careless quoting breaks.
QUOTING_PROBE = 'it\'s "quoted", \\ back $HOME #no-comment'


def psql(host, sql, user=APP, db=APP):
    result = host.run("runuser -u %s -- psql -XAtq -v ON_ERROR_STOP=1 -d %s -c %s", user, db, sql)
    assert result.rc == 0, result.stderr
    return result.stdout.strip()


def main_pid(host, unit=f"{APP}.service"):
    return host.check_output("systemctl show --property=MainPID --value %s", unit).strip()


def entries(host):
    """The shared history of deploys: one JSON object a line."""
    lines = host.file(f"{ROOT}/history.jsonl").content_string.splitlines()
    return [json.loads(line) for line in lines if line]


def history(host):
    """The app releases that went live, in order."""
    return [entry["app"] for entry in entries(host) if entry["status"] == "live"]


BOOT_CHECK = "Check that the release candidate answers the release checks"
MIGRATION_CHECK = "Apply the database migrations with the new release"


def failed_releases(host):
    """The releases on disk marked FAILED, by the check their FAILED file names first."""
    marks = host.check_output("ls -d %s/releases/*/FAILED", ROOT).split()
    first_lines = {Path(mark).parent.name: host.file(mark).content_string.splitlines()[0] for mark in marks}
    return {line.split(" ", 1)[1]: release for release, line in first_lines.items()}


def failed_release(host, check=BOOT_CHECK):
    """side_effect's release that failed at `check` (default: the one that cannot boot)."""
    failed = failed_releases(host)
    assert check in failed, failed
    return failed[check]


def current_id(host):
    return Path(host.file(f"{ROOT}/current").linked_to).name


def test_socket_listens_and_service_runs(host):
    assert host.socket(f"unix://{SOCKET}").is_listening
    for unit in (f"{APP}.socket", f"{APP}.service"):
        assert host.service(unit).is_enabled, unit
        assert host.service(unit).is_running, unit


def test_only_the_app_and_the_web_server_may_use_the_socket(host):
    socket = host.file(SOCKET)
    assert (socket.user, socket.group, socket.mode) == (APP, "www-data", 0o660)
    connect = "import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1]); print('connected')"
    assert host.check_output("runuser -u www-data -- python3 -c %s %s", connect, SOCKET) == "connected"
    refused = host.run("runuser -u nobody -- python3 -c %s %s", connect, SOCKET)
    assert "PermissionError" in refused.stderr, refused.stdout + refused.stderr


def test_health_answers_200_json_through_the_socket(host):
    status, body = request(host, "/health/", https=False)
    assert status == 200, body
    assert json.loads(body) == {"status": "ok", "database": "ok"}


def test_a_posted_holding_is_a_row_psql_sees(host):
    symbol = "T" + uuid.uuid4().hex[:6].upper()
    status, body = post_holding(host, symbol)
    assert status == 201, body
    row = psql(host, f"SELECT quantity, cost_basis FROM portfolios_holding WHERE symbol = '{symbol}'")
    assert row == "3.000000|42.00"


def test_an_upload_lands_in_media_where_the_web_server_can_read_it(host):
    """shared/media is the one path the sandbox lets the app write."""
    status, body = request(host, "/api/portfolios/")
    portfolio = json.loads(body)[0]["id"]
    symbol = "U" + uuid.uuid4().hex[:6].upper()
    csv = f"/tmp/onebox-import-{symbol}.csv"
    host.run("printf 'symbol,quantity,cost_basis\\n%s,1,10.00\\n' > %s && chmod 644 %s", symbol, csv, csv)
    try:
        status, body = request(
            host,
            f"/api/portfolios/{portfolio}/import/",
            method="POST",
            extra=["-F", f"file=@{csv};type=text/csv"],
        )
    finally:
        host.run("rm -f %s", csv)
    # Queued for the worker (test_background.py follows it); the web app stored the file first.
    assert status == 202, body
    status, body = request(host, json.loads(body)["url"])
    assert status == 200, body
    stored = json.loads(body)["file"].split("/media/", 1)[-1]
    assert host.run("runuser -u www-data -- cat %s", f"{ROOT}/shared/media/{stored}").stdout.startswith(
        "symbol,quantity"
    )


def test_static_files_are_collected_for_the_web_server(host):
    manifest = host.run("runuser -u www-data -- cat %s/shared/static/staticfiles.json", ROOT)
    assert manifest.rc == 0, manifest.stderr
    hashed = json.loads(manifest.stdout)["paths"]["admin/css/base.css"]
    assert host.run("runuser -u www-data -- test -r %s/shared/static/%s", ROOT, hashed).rc == 0
    assert host.run("runuser -u nobody -- ls %s/shared/static", ROOT).rc != 0


def test_the_superuser_logs_in_with_the_vault_password(host):
    secrets = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "secrets" / "admin_password"
    password = secrets.read_text().split()[0]
    check = (
        "from django.contrib.auth import authenticate; "
        f"u = authenticate(username='admin', password={password!r}); "
        "print(bool(u and u.is_superuser and u.is_staff))"
    )
    out = host.check_output("%s-manage shell --command %s", APP, check)
    assert out.strip().splitlines()[-1] == "True"


def test_the_environment_survives_quoting_in_systemd_and_dotenv(host):
    pid = main_pid(host)
    # The master's environment, as systemd's EnvironmentFile= parsed it (same user: no ptrace needed).
    environ = host.check_output("runuser -u %s -- cat /proc/%s/environ | tr '\\0' '\\n'", APP, pid)
    assert f"ONEBOX_QUOTING_PROBE={QUOTING_PROBE}" in environ.splitlines()
    dotenv = host.check_output(
        "runuser -u %s -- %s/current/.venv/bin/python -c %s",
        APP,
        ROOT,
        "from dotenv import dotenv_values; "
        f"print(dotenv_values('/etc/{APP}/env', interpolate=False)['ONEBOX_QUOTING_PROBE'], end='')",
    )
    assert dotenv == QUOTING_PROBE
    env = host.file(f"/etc/{APP}/env")
    assert (env.user, env.group, env.mode) == ("root", APP, 0o640)
    assert host.run("runuser -u nobody -- cat /etc/%s/env", APP).rc != 0


def test_the_app_cannot_write_its_code_or_outside_media(host):
    pid = main_pid(host)
    status = host.file(f"/proc/{pid}/status").content_string
    assert re.search(r"^CapEff:\s+0+$", status, re.MULTILINE), status
    assert re.search(r"^NoNewPrivs:\s+1$", status, re.MULTILINE), status
    for path in (f"{ROOT}/current/manage.py", f"{ROOT}/current/.venv/bin/python"):
        assert host.run("runuser -u %s -- test -w %s", APP, path).rc != 0, path


def test_systemd_analyze_rates_the_sandbox_at_most_1_5(host):
    units = (f"{APP}.service", "otherproject.service", "tutorial.service")
    background = (f"{APP}-worker.service", f"{APP}-beat.service", f"{APP}-timer-check.service")
    for unit in units + background:
        out = host.check_output("systemd-analyze security --no-pager %s", unit)
        match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", out)
        assert match, out
        exposure = float(match.group(1))
        print(f"systemd-analyze security {unit} on {host.system_info.codename}: {exposure}")
        assert exposure <= 1.5, out


def restarts(host):
    return int(host.check_output("systemctl show --property=NRestarts --value %s.service", APP))


def test_kill_9_of_the_master_brings_it_back(host):
    before = main_pid(host)
    restarts_before = restarts(host)
    host.run("kill -9 %s", before)
    deadline = time.monotonic() + 30
    status = None
    while time.monotonic() < deadline:
        after = main_pid(host)
        if after != "0" and after != before and host.service(f"{APP}.service").is_running:
            status, _ = request(host, "/health/", https=False)
            if status == 200:
                break
        time.sleep(0.5)
    assert status == 200, f"no healthy master after kill -9 of {before}"
    assert restarts(host) == restarts_before + 1


def test_revision_names_the_release_and_its_commit(host):
    first, second = history(host)
    assert current_id(host) == second
    # The code change shipped from a copy outside git: no commit to name.
    assert host.file(f"{ROOT}/current/REVISION").content_string.splitlines() == [second]
    revision = host.file(f"{ROOT}/releases/{first}/REVISION").content_string.splitlines()
    assert revision[0] == first
    assert re.fullmatch(r"commit [0-9a-f]{40}(-dirty)?", revision[1]), revision


def test_the_releases_went_live_in_order_and_the_rerun_switched_nothing(host):
    """converge, idempotence (no switch), side_effect's code change; its broken release never went live."""
    first, second = history(host)
    assert first != second
    assert second == current_id(host)
    assert host.file(f"{ROOT}/releases/{first}/manage.py").exists
    assert not host.file(f"{ROOT}/releases/{second}/FAILED").exists
    assert sorted(failed_releases(host)) == sorted([BOOT_CHECK, MIGRATION_CHECK])
    assert not set(failed_releases(host).values()) & {first, second}


def test_a_release_that_cannot_boot_never_serves_and_is_kept_marked(host):
    broken = failed_release(host)
    # It ran only as the candidate, on its own socket; the service never loaded it.
    with host.sudo():
        assert "a release whose workers cannot boot" in host.check_output(
            "journalctl --no-pager -u %s-candidate@%s.service", APP, broken
        )
        assert "a release whose workers cannot boot" not in host.check_output(
            "journalctl --no-pager -u %s.service", APP
        )
        assert not host.service(f"{APP}-candidate@{broken}.service").is_running
    status, _ = request(host, "/health/", https=False)
    assert status == 200


def test_a_failed_migration_leaves_the_schema_and_the_site_as_they_were(host):
    """side_effect's third release adds a column and then fails in the same migration: PostgreSQL
    rolls the whole migration back, current stays, and the release is kept, marked."""
    failed = failed_release(host, MIGRATION_CHECK)
    assert "a migration that fails half-way" in host.file(f"{ROOT}/releases/{failed}/FAILED").content_string
    columns = psql(
        host, "SELECT count(*) FROM information_schema.columns WHERE column_name = 'onebox_failed_probe'"
    )
    applied = psql(host, "SELECT count(*) FROM django_migrations WHERE name = '9999_onebox_failing'")
    assert (columns, applied) == ("0", "0")
    assert current_id(host) == history(host)[-1] != failed
    status, body = request(host, "/canary/")
    assert (status, body) == (200, "canary")


def test_the_new_release_serves_the_changed_code(host):
    """side_effect.yml's copy adds /canary/; the restart after the switch must have loaded it."""
    status, body = request(host, "/canary/")
    assert (status, body) == (200, "canary")


def test_a_code_only_release_reuses_the_virtualenv(host):
    first, second = history(host)
    broken = failed_release(host)
    venvs = {host.file(f"{ROOT}/releases/{r}/.venv").linked_to for r in (first, second, broken)}
    assert len(venvs) == 1
    venv = venvs.pop()
    assert host.check_output("ls %s/venvs", ROOT).split() == [Path(venv).name]
    # Built before the first release was unpacked, and not touched since.
    built = int(host.check_output("stat -c %%Y %s/requirements.txt", venv))
    first_unpacked = int(host.check_output("stat -c %%Y %s/releases/%s/REVISION", ROOT, first))
    assert built <= first_unpacked


def test_a_failed_release_left_the_live_environment_and_static_files_as_they_were(host):
    """The release that cannot boot came with a changed environment and a stylesheet of its own:
    the candidate ran with both, nothing the live release uses has either."""
    broken = failed_release(host)
    with host.sudo():
        live = host.file(f"/etc/{APP}/env").content_string
        proposed = host.file("/var/tmp/onebox-test-env.next-of-the-failed-release").content_string
        own = host.run("ls %s/releases/%s/.static/portfolios", ROOT, broken).stdout.split()
        shared = host.run("ls %s/shared/static/portfolios", ROOT)
        manifest = host.file(f"{ROOT}/shared/static/staticfiles.json").content_string
        current_manifest = host.file(f"{ROOT}/current/.static/staticfiles.json").content_string
    assert "ONEBOX_FAILED_RELEASE_PROBE" in proposed
    assert "ONEBOX_FAILED_RELEASE_PROBE" not in live
    assert any(name.startswith("onebox-broken") for name in own), own
    assert "onebox-broken" not in shared.stdout
    assert manifest == current_manifest
    assert "onebox-broken" not in manifest


def test_the_history_names_each_failed_release_and_why(host):
    failed = [entry for entry in entries(host) if entry["status"] == "failed"]
    reasons = {entry["app"]: entry["reason"] for entry in failed}
    assert BOOT_CHECK in reasons[failed_release(host)]
    assert "a release whose workers cannot boot" in reasons[failed_release(host)]
    assert MIGRATION_CHECK in reasons[failed_release(host, MIGRATION_CHECK)]


def test_no_candidate_or_handover_is_left_running(host):
    with host.sudo():
        units = host.check_output("systemctl list-units --all --plain --no-legend '%s-*'", APP)
    lines = [line.split() for line in units.splitlines() if line.strip()]
    # No candidate or handover unit of any kind (a service, or a socket still listening) is active.
    temporary = re.compile(r"-(candidate|handover)\b")
    left = [line[0] for line in lines if line[2] == "active" and temporary.search(line[0])]
    assert not left, units
    # The metrics exporter, the admin's own service and Celery's worker and beat run beside the
    # app for good; no other service of the app's may. (A socket's sub-state, running or listening,
    # follows whichever of its services changed last: not looked at.)
    running = sorted(line[0] for line in lines if line[3] == "running" and line[0].endswith(".service"))
    expected = [f"{APP}-{name}.service" for name in ("admin", "beat", "metrics", "worker")]
    assert running == expected, units
