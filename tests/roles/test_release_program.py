"""roles/release/files/onebox_release.py: the host-side release program, on this machine.

The parts that need no systemd: the deploy lock (two runs, a dead run, a run whose lease ran out),
the history of pairs, what is kept and pruned, publishing into a shared folder, and the checks
through a unix socket against a real HTTP server on one.
"""

import contextlib
import http.server
import importlib.util
import json
import os
import socketserver
import subprocess
import sys
import threading
import time
import typing
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = ROOT / "roles" / "release" / "files" / "onebox_release.py"
spec = importlib.util.spec_from_file_location("onebox_release", PROGRAM)
release = importlib.util.module_from_spec(spec)
spec.loader.exec_module(release)


def run(tmp_path, *args, check=False):
    env = {**os.environ, "ONEBOX_LOCK_DIR": str(tmp_path / "locks")}
    return subprocess.run(
        [sys.executable, str(PROGRAM), *args],
        capture_output=True,
        text=True,
        env=env,
        check=check,
        timeout=60,
    )


# --- the lock ------------------------------------------------------------------------------


def test_a_second_run_waits_then_stops_naming_the_holder(tmp_path):
    first = run(tmp_path, "lock", "acquire", "--app", "shop", "--run", "r1", "--holder", "alice@laptop")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["changed"] is True
    start = time.monotonic()
    second = run(
        tmp_path, "lock", "acquire", "--app", "shop", "--run", "r2", "--holder", "bob", "--wait", "2"
    )
    waited = time.monotonic() - start
    assert second.returncode == 3
    assert "alice@laptop" in second.stderr
    assert "since" in second.stderr
    assert waited >= 2


def test_a_run_that_waited_says_for_whom_once_it_has_the_lock(tmp_path):
    lock = release.Lock("shop", tmp_path / "locks")
    lock.acquire("r1", "alice@laptop", 0, 900, None)
    assert lock.acquire("r1", "alice@laptop", 0, 900, None)["waited"] == ""
    threading.Timer(1.5, lock.release, args=("r1",)).start()
    got = lock.acquire("r2", "bob", 30, 900, None)
    assert lock.read()["run"] == "r2"
    assert got["waited"].startswith("waited ")
    assert "for the run of alice@laptop" in got["waited"]
    assert "run r1" in got["waited"]
    assert got["took_over"] == ""


def test_a_run_whose_holder_died_while_it_waited_says_it_took_over_not_that_it_waited(tmp_path):
    lock = release.Lock("shop", tmp_path / "locks")
    lock.acquire("r1", "alice@laptop", 0, 1.5, None)
    got = lock.acquire("r2", "bob", 30, 900, None)
    assert "took over the lock of alice@laptop" in got["took_over"]
    assert "lease ran out" in got["took_over"]
    assert got["waited"] == ""


def test_the_same_run_renews_its_lock_and_releases_it(tmp_path):
    assert run(tmp_path, "lock", "acquire", "--app", "shop", "--run", "r1", "--holder", "a").returncode == 0
    again = run(tmp_path, "lock", "acquire", "--app", "shop", "--run", "r1", "--holder", "a")
    assert again.returncode == 0
    assert json.loads(again.stdout)["changed"] is False
    released = run(tmp_path, "lock", "release", "--app", "shop", "--run", "r1")
    assert json.loads(released.stdout)["changed"] is True
    other = run(tmp_path, "lock", "acquire", "--app", "shop", "--run", "r2", "--holder", "b")
    assert other.returncode == 0


def test_a_lock_whose_anchor_died_is_taken_over(tmp_path):
    lock = release.Lock("shop", tmp_path / "locks")
    sleeper = subprocess.Popen(["sleep", "30"])
    anchor = {"pid": sleeper.pid, "start": release.proc_stat(sleeper.pid)[1], "kind": "ssh session"}
    lock.acquire("dead-run", "carol", 0, 900, anchor)
    with pytest.raises(release.Failure):
        lock.acquire("next", "dave", 0, 900, None)
    sleeper.kill()
    sleeper.wait()
    result = lock.acquire("next", "dave", 0, 900, None)
    assert "took over the lock of carol" in result["took_over"]
    assert "ssh session" in result["took_over"]
    assert lock.read()["run"] == "next"


def test_a_lock_whose_lease_ran_out_is_taken_over(tmp_path):
    lock = release.Lock("shop", tmp_path / "locks")
    lock.acquire("old", "erin", 0, 0.5, None)
    with pytest.raises(release.Failure) as refused:
        lock.acquire("new", "frank", 0, 900, None)
    assert "erin" in str(refused.value)
    time.sleep(0.6)
    assert "lease ran out" in lock.acquire("new", "frank", 0, 900, None)["took_over"]


def test_the_anchor_of_this_process_is_not_a_session(tmp_path):
    # pytest runs under no sshd and no Mitogen: only the lease protects such a run.
    assert release.session_anchor() is None


# --- history, keep, prune, publish -----------------------------------------------------------------


def test_history_records_pairs_and_keeps_the_last_ones(tmp_path):
    history = release.History(tmp_path / "history.jsonl")
    for app, frontend in [("a1", "f1"), ("a2", "f1"), ("a2", "f2"), ("a3", "f2")]:
        history.add({"app": app, "frontend": frontend, "status": "live"})
    history.add({"app": "a4", "frontend": "f2", "status": "failed", "reason": "check"})
    assert history.live_pairs() == [("a3", "f2"), ("a2", "f2"), ("a2", "f1"), ("a1", "f1")]
    kept = release.keep(history, 2, {"app": "a3", "frontend": "f2"})
    assert kept == {"app": ["a3", "a2"], "frontend": ["f2"]}


def test_prune_removes_what_no_kept_release_has(tmp_path):
    releases, shared = tmp_path / "releases", tmp_path / "assets"
    for rid, files in {"r1": ["a.js", "old.js"], "r2": ["a.js", "b.js"], ".r3.partial": ["c.js"]}.items():
        (releases / rid / "assets").mkdir(parents=True)
        for name in files:
            (releases / rid / "assets" / name).write_text(name)
            release.publish(releases / rid / "assets", shared)
    result = release.prune(releases, ["r2"], [(shared, "assets")])
    assert sorted(result["removed"]) == [".r3.partial", "r1"]
    assert sorted(p.name for p in shared.iterdir()) == ["a.js", "b.js"]
    assert sorted(p.name for p in releases.iterdir()) == ["r2"]


def test_publish_links_new_files_and_replaces_changed_ones(tmp_path):
    source, target = tmp_path / "release" / "static", tmp_path / "shared"
    (source / "css").mkdir(parents=True)
    (source / "css" / "site.abc.css").write_text("one")
    (source / "robots.txt").write_text("new robots")
    target.mkdir()
    (target / "robots.txt").write_text("old robots")
    assert release.publish(source, target) == {"changed": True, "linked": 2}
    assert os.path.samefile(source / "css" / "site.abc.css", target / "css" / "site.abc.css")
    assert (target / "robots.txt").read_text() == "new robots"
    assert release.publish(source, target) == {"changed": False, "linked": 0}


# --- checks through a unix socket --------------------------------------------------------------


class Handler(http.server.BaseHTTPRequestHandler):
    routes: typing.ClassVar[dict] = {}

    def do_GET(self):
        status, ctype, body = self.routes.get(self.path, (404, "text/plain", "nothing here"))
        self.server.hits.append((self.path, self.headers.get("Host"), self.headers.get("X-Forwarded-Proto")))
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body.encode())))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):
        request, _ = super().get_request()
        return request, ("local", 0)


@pytest.fixture
def app_socket(tmp_path):
    path = tmp_path / "app.sock"
    server = UnixServer(str(path), Handler)
    server.hits = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield path, server
    server.shutdown()
    server.server_close()


def test_check_passes_when_every_path_answers_200(app_socket):
    path, server = app_socket
    Handler.routes = {"/health/": (200, "text/plain", "ok"), "/api/": (200, "application/json", "[]")}
    result = release.check(str(path), "shop.example", ["/health/", "/api/"], True, "", 3, 0.05)
    assert result["answered"] == {"/health/": 200, "/api/": 200}
    assert ("/api/", "shop.example", "https") in server.hits


def test_a_4xx_is_not_retried_and_its_page_is_reduced_to_text_with_a_hint(app_socket):
    path, server = app_socket
    page = (
        "<!DOCTYPE html><html><head><style>body { color: red }</style><script>var x = 1;</script></head>"
        "<body><h1>DisallowedHost at /health/</h1>"
        "<p>Invalid HTTP_HOST header: 'bad.example'.</p></body></html>"
    )
    Handler.routes = {"/health/": (400, "text/html; charset=utf-8", page)}
    with pytest.raises(release.Failure) as failed:
        release.check(str(path), "bad.example", ["/health/"], False, "", 30, 0.05)
    message = str(failed.value)
    assert len(server.hits) == 1
    assert "answered 400" in message
    assert "DisallowedHost at /health/" in message
    assert "color: red" not in message
    assert "var x" not in message
    assert "django_allowed_hosts" in message


def test_django_s_production_400_still_gets_the_allowed_hosts_hint(app_socket):
    """DEBUG off: the page is "Bad Request (400)" and nothing more; the hint names the host sent."""
    path, server = app_socket
    Handler.routes = {
        "/health/": (400, "text/html", "<!doctype html><html><body><h1>Bad Request (400)</h1></body></html>")
    }
    with pytest.raises(release.Failure) as failed:
        release.check(str(path), "bad.example", ["/health/"], False, "", 30, 0.05)
    message = str(failed.value)
    assert len(server.hits) == 1
    assert "Bad Request (400)" in message
    assert "The check sent Host 'bad.example'" in message
    assert "django_allowed_hosts" in message


def test_a_502_is_retried_then_reported(app_socket):
    path, server = app_socket
    Handler.routes = {"/health/": (502, "text/plain", "booting")}
    with pytest.raises(release.Failure) as failed:
        release.check(str(path), "shop.example", ["/health/"], False, "", 3, 0.05)
    assert len(server.hits) == 3
    assert "502 after 3 tries" in str(failed.value)


def test_no_socket_at_all_is_retried_then_reported(tmp_path):
    with pytest.raises(release.Failure) as failed:
        release.check(str(tmp_path / "missing.sock"), "shop.example", ["/health/"], False, "", 2, 0.05)
    assert "no answer" in str(failed.value)


def test_long_output_keeps_its_end():
    text = "x" * 5000 + "\nPermissionError: [Errno 13] Permission denied: '/srv/app/releases/abc/staticfiles'"
    kept = release.tail(text)
    assert kept.endswith("staticfiles'")
    assert kept.startswith("[...]")
    assert "shared/media" in " ".join(release.hints(500, kept, "h"))


def test_one_run_writes_one_pair_and_fills_the_other_half(tmp_path):
    history = release.History(tmp_path / "history.jsonl")
    history.add({"app": "a1", "frontend": "f1", "status": "live", "run": "r1"})
    history.add({"app": "a2", "status": "live", "run": "r2"})  # the django role's half
    history.add({"frontend": "f2", "status": "live", "run": "r2"})  # the frontend role's, same run
    history.add({"frontend": "f3", "status": "live", "run": "r3"})  # a frontend-only deploy
    pairs = [(e["app"], e["frontend"]) for e in history.entries()]
    assert pairs == [("a1", "f1"), ("a2", "f2"), ("a2", "f3")]


def test_a_repair_run_records_the_pair_a_dead_run_switched_to_once(tmp_path):
    """A run killed between the switch and its record leaves the history behind `current`: the next
    run adds the live release once, and a run after that adds nothing."""
    path = tmp_path / "history.jsonl"
    release.History(path).add({"app": "a1", "frontend": "f1", "status": "live", "run": "r1"})
    args = ["history", "add", f"--file={path}", "--app-release=a2", "--run=r3", "--unless-live"]
    first = json.loads(run(tmp_path, *args, check=True).stdout)
    second = json.loads(run(tmp_path, *args, check=True).stdout)
    assert (first["changed"], second["changed"]) == (True, False)
    pairs = [(e["app"], e["frontend"]) for e in release.History(path).entries()]
    assert pairs == [("a1", "f1"), ("a2", "f1")]


def test_a_failed_release_is_recorded_but_never_a_pair(tmp_path):
    history = release.History(tmp_path / "history.jsonl")
    history.add({"app": "a1", "frontend": "f1", "status": "live", "run": "r1"})
    history.add({"app": "bad", "status": "failed", "reason": "check /health/ answered 500", "run": "r2"})
    assert history.live_pairs() == [("a1", "f1")]
    assert history.entries()[-1]["reason"].startswith("check")


def test_the_files_of_earlier_versions_become_the_first_entries(tmp_path):
    app_log = tmp_path / "releases.log"
    app_log.write_text("2026-11-01T10:00:00Z a1\n2026-11-02T10:00:00Z a2\n")
    frontend_log = tmp_path / "frontend-history"
    frontend_log.write_text("f1\nf2\n")
    legacy = release.legacy_history(app_log, frontend_log, {"app": "a2", "frontend": "f2"})
    history = release.History(tmp_path / "history.jsonl")
    history.add({"app": "a3", "status": "live", "run": "r9"}, legacy)
    assert history.live_pairs()[:3] == [("a3", "f2"), ("a2", "f2"), ("a2", "f1")]
    assert ("a1", "") in history.live_pairs()


def test_rollback_goes_to_the_pair_before_the_current_one(tmp_path):
    history = release.History(tmp_path / "history.jsonl")
    for i, (app, frontend) in enumerate([("a1", "f1"), ("a2", "f1"), ("a2", "f2")]):
        history.add({"app": app, "frontend": frontend, "status": "live", "run": f"r{i}"})
    present = {"app": {"a1", "a2"}, "frontend": {"f1", "f2"}}
    plan = release.plan_rollback(history, {"app": "a2", "frontend": "f2"}, present)
    assert (plan["app"], plan["frontend"]) == ("a2", "f1")
    named = release.plan_rollback(history, {"app": "a2", "frontend": "f2"}, present, app="a1")
    assert (named["app"], named["frontend"]) == ("a1", "f1")
    with pytest.raises(release.Failure) as missing:
        release.plan_rollback(history, {"app": "a2", "frontend": "f2"}, present, app="zz")
    assert "django_rollback_release 'zz' is not a release on this host" in str(missing.value)


def test_rollback_skips_pairs_whose_releases_are_gone(tmp_path):
    history = release.History(tmp_path / "history.jsonl")
    for i, pair in enumerate([("a0", "f0"), ("a1", "f1"), ("a2", "f2")]):
        history.add({"app": pair[0], "frontend": pair[1], "status": "live", "run": f"r{i}"})
    present = {"app": {"a0", "a2"}, "frontend": {"f0", "f1", "f2"}}
    plan = release.plan_rollback(history, {"app": "a2", "frontend": "f2"}, present)
    assert (plan["app"], plan["frontend"]) == ("a0", "f0")
    with pytest.raises(release.Failure, match="No earlier release pair"):
        release.plan_rollback(history, {"app": "a2", "frontend": "f2"}, {"app": {"a2"}, "frontend": {"f2"}})


def test_virtualenvs_no_kept_release_uses_are_removed(tmp_path):
    releases, venvs = tmp_path / "releases", tmp_path / "venvs"
    for name in ("v1", "v2", ".building-v3"):
        (venvs / name).mkdir(parents=True)
    for rid, venv in (("r1", "v1"), ("r2", "v2")):
        (releases / rid).mkdir(parents=True)
        (releases / rid / ".venv").symlink_to(venvs / venv)
    assert release.prune_venvs(venvs, releases, ["r2"]) == [".building-v3", "v1"]
    assert [p.name for p in venvs.iterdir()] == ["v2"]


def test_rollback_knows_the_half_it_was_not_told_from_the_history(tmp_path):
    history = release.History(tmp_path / "history.jsonl")
    for i, pair in enumerate([("a1", "f1"), ("a2", "f1")]):
        history.add({"app": pair[0], "frontend": pair[1], "status": "live", "run": f"r{i}"})
    plan = release.plan_rollback(history, {"app": "a2"}, {"app": {"a1", "a2"}, "frontend": None})
    assert (plan["app"], plan["frontend"]) == ("a1", "f1")


def test_the_same_half_switched_twice_in_one_run_is_two_deploys(tmp_path):
    history = release.History(tmp_path / "history.jsonl")
    history.add({"app": "a1", "frontend": "f1", "status": "live", "run": "r1"})
    history.add({"frontend": "f2", "status": "live", "run": "r2"})
    history.add({"frontend": "f3", "status": "live", "run": "r2"})
    history.add({"app": "a2", "status": "live", "run": "r2"})
    pairs = [(e["app"], e["frontend"]) for e in history.entries()]
    assert pairs == [("a1", "f1"), ("a1", "f2"), ("a2", "f3")]


HOOKS = ROOT / "roles" / "release" / "files" / "gunicorn_hooks.py"
hooks_spec = importlib.util.spec_from_file_location("gunicorn_hooks", HOOKS)
hooks = importlib.util.module_from_spec(hooks_spec)
hooks_spec.loader.exec_module(hooks)


def seen_address(environ, trusted=()):
    seen = {}

    def app(env, start_response):
        seen["addr"] = env.get("REMOTE_ADDR")
        return [b""]

    hooks.client_address(app, trusted)(environ, lambda *a: None)
    return seen["addr"], environ.get("REMOTE_ADDR")


@pytest.mark.parametrize(
    ("environ", "trusted", "expected"),
    [
        ({"REMOTE_ADDR": "", "HTTP_X_REAL_IP": "203.0.113.9"}, (), "203.0.113.9"),
        ({"REMOTE_ADDR": "", "HTTP_X_REAL_IP": "2001:db8::7"}, (), "2001:db8::7"),
        ({"REMOTE_ADDR": "10.0.0.5", "HTTP_X_REAL_IP": "203.0.113.9"}, ("10.0.0.5",), "203.0.113.9"),
        # A peer on TCP that is not a trusted proxy cannot claim another address.
        ({"REMOTE_ADDR": "198.51.100.1", "HTTP_X_REAL_IP": "203.0.113.9"}, ("10.0.0.5",), "198.51.100.1"),
        ({"REMOTE_ADDR": "", "HTTP_X_REAL_IP": "not an address"}, (), ""),
        ({"REMOTE_ADDR": ""}, (), ""),
    ],
    ids=["socket", "socket v6", "trusted proxy", "untrusted peer", "garbage", "no header"],
)
def test_the_app_and_the_access_log_see_the_client_address(environ, trusted, expected):
    """The app gets the address, and gunicorn's access log, which reads the same environ after the
    app, does too."""
    assert seen_address(dict(environ), trusted) == (expected, expected)


WARM_UP = """
import importlib.util, json, sys
import django
from django.conf import settings
settings.configure(ROOT_URLCONF="urls", ALLOWED_HOSTS=["*"],
                   DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}})
django.setup()
spec = importlib.util.spec_from_file_location("gunicorn_hooks", sys.argv[1])
hooks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(hooks)
problem = hooks.warm_up()
from django.urls import get_resolver
from django.db import connection
print(json.dumps({"problem": problem, "imported": "views" in sys.modules,
                  "populated": get_resolver()._populated, "connected": connection.connection is not None}))
"""


@pytest.mark.parametrize("broken", [False, True], ids=["urlconf", "broken urlconf"])
def test_a_worker_imports_the_urlconf_before_it_accepts(tmp_path, broken):
    """The warm-up imports the URLconf and every view module it names and builds the resolver,
    and closes the connection a view module opened on import (in a master it would be shared by
    every forked worker); a URLconf that cannot be imported is reported, not raised."""
    (tmp_path / "views.py").write_text(
        "from django.db import connection\nconnection.cursor().execute('select 1')\n"
        "def home(request):\n    return None\n"
    )
    (tmp_path / "urls.py").write_text(
        "from django.urls import path\nimport views\n"
        + ("import not_a_module\n" if broken else "")
        + "urlpatterns = [path('', views.home)]\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", WARM_UP, str(HOOKS)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    )
    seen = json.loads(result.stdout)
    if broken:
        assert seen["problem"].startswith("ModuleNotFoundError: No module named 'not_a_module'")
        assert not seen["populated"]
    else:
        assert seen == {"problem": "", "imported": True, "populated": True, "connected": False}


class FastExit(Exception):
    pass


def ending_worker(monkeypatch, code):
    """worker_exit as gunicorn calls it: in the `finally` of a worker whose exit is in flight."""
    calls = []
    monkeypatch.setattr(hooks.atexit, "_run_exitfuncs", lambda: calls.append("atexit"))

    def fast_exit(status):
        calls.append(f"_exit({status})")
        raise FastExit

    monkeypatch.setattr(hooks.os, "_exit", fast_exit)
    with contextlib.suppress(SystemExit, FastExit):
        try:
            sys.exit(code)
        finally:
            hooks.worker_exit(None, None)
    return calls


def test_a_worker_that_stops_cleanly_skips_the_teardown_after_its_atexit_handlers(monkeypatch):
    assert ending_worker(monkeypatch, 0) == ["atexit", "_exit(0)"]


@pytest.mark.parametrize("code", [3, 4, -1])
def test_a_worker_that_fails_exits_with_gunicorn_s_status(monkeypatch, code):
    """3 and 4 (boot and app-load errors) are how the master learns to stop: never replaced."""
    assert ending_worker(monkeypatch, code) == []


# --- run: Celery's worker and beat, the timers' commands ---------------------------------------


def make_release(tmp_path: Path, name: str) -> Path:
    """A release whose .venv/bin/python is this machine's interpreter, as a virtualenv's is."""
    release_dir = tmp_path / "releases" / name
    (release_dir / ".venv" / "bin").mkdir(parents=True)
    (release_dir / ".venv" / "bin" / "python").symlink_to(sys.executable)
    (tmp_path / "current").unlink(missing_ok=True)
    (tmp_path / "current").symlink_to(release_dir)
    return release_dir


def run_python(tmp_path: Path, env_file: Path, script: str, check=False):
    """`onebox-release run --load-env` of `current` with `env_file`, on `python -c script`."""
    current = f"--current={tmp_path / 'current'}"
    return run(
        tmp_path, "run", "--load-env", current, f"--env-file={env_file}", "--", "-c", script, check=check
    )


def test_run_execs_the_live_release_with_its_marks_and_the_env_file(tmp_path):
    """`run` resolves current, loads the env file (quotes and escapes as the django role writes
    them), and execs the release's python from the project with the release and the env's digest
    in its command line, where `running` reads them back."""
    release_dir = make_release(tmp_path, "r1")
    env_file = tmp_path / "env"
    env_file.write_text('# written by the role\nGREETING="it\'s \\"quoted\\", \\\\ $HOME #no-comment"\n')
    script = (
        "import json, os, sys; print(json.dumps({'cwd': os.getcwd(), 'x': sys._xoptions, "
        "'greeting': os.environ['GREETING'], 'release': os.environ['ONEBOX_RELEASE'], "
        "'env_file': os.environ['DJANGO_ENV_FILE']}))"
    )
    result = run_python(tmp_path, env_file, script, check=True)
    seen = json.loads(result.stdout)
    assert seen["cwd"] == str(release_dir)
    assert seen["greeting"] == 'it\'s "quoted", \\ $HOME #no-comment'
    assert seen["release"] == "r1"
    assert seen["env_file"] == str(env_file)
    assert seen["x"] == {"onebox_release": "r1", "onebox_env": release.env_digest(env_file)}


def test_running_reads_the_marks_of_run_as_it_reads_gunicorn_s(monkeypatch, tmp_path):
    venv = tmp_path / "venvs" / "abc"
    argv = [
        str(venv / "bin" / "python"),
        "-X",
        "onebox_release=r2",
        "-X",
        "onebox_env=0123abcd",
        "-m",
        "celery",
    ]
    monkeypatch.setattr(
        release, "unit_show", lambda unit, *names: {"ActiveState": "active", "MainPID": "4242"}
    )
    monkeypatch.setattr(release, "proc_cmdline", lambda pid: argv if pid == 4242 else [])
    facts = release.running("portfolio-worker.service")
    assert facts == {"active": True, "pid": 4242, "release": "r2", "env": "0123abcd", "venv": str(venv)}


def test_a_broken_env_file_stops_run_naming_the_line(tmp_path):
    make_release(tmp_path, "r1")
    env_file = tmp_path / "env"
    env_file.write_text('GOOD="yes"\nBAD=unquoted\n')
    result = run_python(tmp_path, env_file, "print('ran')")
    assert result.returncode != 0
    assert f"{env_file}:2" in result.stderr
    assert "ran" not in result.stdout


def test_followers_that_run_the_wanted_release_are_left_alone(monkeypatch):
    want = {"release": "r2", "env": "e", "venv": "/v"}
    facts = {
        "portfolio-worker.service": {"active": True, "pid": 1, **want},
        "portfolio-beat.service": {"active": True, "pid": 2, "release": "r1", "env": "e", "venv": "/v"},
    }
    calls = []
    monkeypatch.setattr(release, "running", lambda unit: facts[unit])
    monkeypatch.setattr(release, "outdated", lambda unit: False)

    def systemctl(*args, check=False):
        calls.append(args)
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(release, "systemctl", systemctl)
    props = {"InvocationID": "i1", "NRestarts": "2", "TimeoutStopUSec": "5min 30s"}
    monkeypatch.setattr(release, "unit_show", lambda unit, *names: calls.append(("show", unit)) or props)
    monkeypatch.setattr(release.time, "monotonic", lambda: 1000.0)
    queued = release.queue_followers(list(facts), want)
    # Its restarts are read after reset-failed (which sets them back to 0), before the restart.
    assert calls == [
        ("reset-failed", "portfolio-beat.service"),
        ("show", "portfolio-beat.service"),
        ("restart", "--no-block", "portfolio-beat.service"),
    ]
    assert not any("portfolio-worker.service" in call for call in calls)
    assert queued == {
        "steps": ["restarted portfolio-beat.service (it ran r1)"],
        "units": {"portfolio-beat.service": {"invocation": "i1", "restarts": 2, "deadline": 1390.0}},
    }


class Follower:
    """A follower unit as settle_followers sees it, moment by moment: `states` are read in turn
    (the last one stays), each (ActiveState, NRestarts, release it runs, seconds it has run, and
    its InvocationID: "old" is the one queue_followers noted, a process from before the restart)."""

    def __init__(self, monkeypatch, states):
        self.states = list(states)
        self.reads = 0
        now = time.time()

        def state():
            return self.states[min(max(self.reads - 1, 0), len(self.states) - 1)]

        def unit_show(unit, *names):
            self.reads += 1
            active, restarts, _, _, invocation = state()
            return {"ActiveState": active, "NRestarts": str(restarts), "InvocationID": invocation}

        def running(unit):
            active, _, ran, _, _ = state()
            return {"active": active == "active", "pid": 7, "release": ran, "env": "e", "venv": "/v"}

        monkeypatch.setattr(release, "unit_show", unit_show)
        monkeypatch.setattr(release, "running", running)
        monkeypatch.setattr(release, "started_at", lambda unit: now - state()[3])
        monkeypatch.setattr(release, "journal", lambda *a, **k: "Traceback: ImproperlyConfigured")
        clock = [0.0]
        monkeypatch.setattr(release.time, "sleep", lambda seconds: clock.__setitem__(0, clock[0] + seconds))
        monkeypatch.setattr(release.time, "monotonic", lambda: clock[0])


WANT = {"release": "r2", "env": "e", "venv": "/v"}


def queued(restarts=0):
    """What queue_followers noted for the worker: its old invocation, restarts and deadline (the
    stand-in clock starts at 0; TimeoutStopSec 1min 30s, plus a minute)."""
    return {
        "units": {"portfolio-worker.service": {"invocation": "old", "restarts": restarts, "deadline": 150.0}}
    }


def test_a_follower_settles_once_it_has_run_the_release_long_enough(monkeypatch):
    """Its warm shutdown first (still r1, then deactivating), then r2, which must live 3 s."""
    unit = Follower(
        monkeypatch,
        [
            ("active", 0, "r1", 60, "old"),
            ("deactivating", 0, "r1", 61, "old"),
            ("active", 0, "r2", 0.5, "new"),
            ("active", 0, "r2", 3.5, "new"),
        ],
    )
    release.settle_followers(queued(), WANT, settle=3)
    assert unit.reads == 4


def test_a_follower_restarted_for_its_unit_file_settles_only_in_its_new_invocation(monkeypatch):
    """The old process already runs r2 (only the unit changed) and has lived long: not settled
    until the restart has given the unit a new invocation that lived 3 s."""
    unit = Follower(
        monkeypatch,
        [("active", 0, "r2", 600, "old"), ("active", 0, "r2", 0.5, "new"), ("active", 0, "r2", 3.5, "new")],
    )
    release.settle_followers(queued(), WANT, settle=3)
    assert unit.reads == 3


@pytest.mark.parametrize(
    "states",
    [
        [("active", 2, "r1", 60, "old"), ("activating", 3, "", 0, "new")],
        [("active", 0, "r2", 0.2, "new"), ("failed", 0, "", 0, "new")],
        [("active", 0, "r2", 0.2, "new"), ("inactive", 0, "", 0, "new")],
    ],
    ids=["restarted by systemd", "failed", "stopped"],
)
def test_a_follower_that_dies_after_its_restart_fails_the_converge_at_once(monkeypatch, states):
    unit = Follower(monkeypatch, states)
    with pytest.raises(release.Failure, match=r"does not keep running r2(.|\n)*ImproperlyConfigured"):
        release.settle_followers(queued(restarts=states[0][1]), WANT, settle=3)
    assert unit.reads == len(states)


def test_a_follower_that_never_runs_the_release_fails_after_its_stop_timeout(monkeypatch):
    """A warm shutdown that does not end (a task past its time limit) is given TimeoutStopSec and a minute."""
    Follower(monkeypatch, [("deactivating", 0, "r1", 60, "old")])
    with pytest.raises(release.Failure, match="does not run r2 in time"):
        release.settle_followers(queued(), WANT, settle=3)
    assert release.time.monotonic() == pytest.approx(150, abs=0.5)


def test_settle_checks_the_followers_a_converge_queued_against_what_current_says(monkeypatch, capsys):
    """`converge --settle-later` returns its queue; `settle` (after the other instances converged)
    waits on exactly those units, for the release `current` and the env file name."""
    seen = []
    monkeypatch.setattr(release, "wanted", lambda current, env: {**WANT, "from": (str(current), str(env))})
    monkeypatch.setattr(release, "settle_followers", lambda q, want, settle: seen.append((q, want, settle)))
    noted = queued()["units"]
    argv = ["settle", "--current=/srv/p/current", "--env-file=/etc/p/env", f"--queued={json.dumps(noted)}"]
    assert release.main(argv) == 0
    assert json.loads(capsys.readouterr().out) == {"changed": False, "settled": ["portfolio-worker.service"]}
    assert seen == [({"units": noted}, {**WANT, "from": ("/srv/p/current", "/etc/p/env")}, 3.0)]


def test_settle_with_nothing_queued_reads_nothing(monkeypatch, capsys):
    monkeypatch.setattr(release, "wanted", lambda *a: pytest.fail("read the release with nothing to settle"))
    assert release.main(["settle", "--current=/srv/p/current", "--env-file=/etc/p/env", "--queued={}"]) == 0
    assert json.loads(capsys.readouterr().out) == {"changed": False, "settled": []}


def test_a_settle_that_fails_names_the_follower(monkeypatch, capsys):
    """The failure of a follower after its restart reaches the task as a failed command, naming it."""
    Follower(monkeypatch, [("active", 0, "r2", 0.2, "new"), ("failed", 0, "", 0, "new")])
    monkeypatch.setattr(release, "wanted", lambda *a: WANT)
    argv = ["settle", "--current=/c", "--env-file=/e", f"--queued={json.dumps(queued()['units'])}"]
    assert release.main(argv) != 0
    assert "portfolio-worker.service does not keep running r2" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("span", "seconds"),
    [("5min 30s", 330), ("1h 2min", 3720), ("90s", 90), ("500ms", 0.5), ("1d 1h", 90000), ("infinity", 3600)],
)
def test_systemd_time_spans_are_read_as_seconds(span, seconds):
    assert release.seconds_of(span) == pytest.approx(seconds)


def test_running_falls_back_to_the_marks_run_wrote_when_the_title_was_rewritten(monkeypatch, tmp_path):
    """setproctitle (Celery uses it when the project has it) replaces the command line; `run` also
    wrote its marks into the unit's RuntimeDirectory, which only count for the pid that wrote them."""
    monkeypatch.setattr(release, "RUN_DIR", tmp_path)
    (tmp_path / "portfolio-beat").mkdir()
    marks = {"pid": 4242, "release": "r3", "env": "feed", "venv": "/srv/portfolio/venvs/abc"}
    (tmp_path / "portfolio-beat" / release.RUN_MARKS).write_text(json.dumps(marks))
    props = {"ActiveState": "active", "MainPID": "4242", "RuntimeDirectory": "portfolio-beat"}
    monkeypatch.setattr(release, "unit_show", lambda unit, *names: props)
    monkeypatch.setattr(release, "proc_cmdline", lambda pid: ["celery beat: Starting..."])
    facts = release.running("portfolio-beat.service")
    assert (facts["release"], facts["env"], facts["venv"]) == ("r3", "feed", "/srv/portfolio/venvs/abc")
    props["MainPID"] = "5151"
    assert release.running("portfolio-beat.service")["release"] == ""


def test_run_writes_its_marks_into_the_runtime_directory(tmp_path):
    make_release(tmp_path, "r4")
    env_file = tmp_path / "env"
    env_file.write_text('A="1"\n')
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    script = "import os; print(os.getpid())"
    result = subprocess.run(
        [
            sys.executable,
            str(PROGRAM),
            "run",
            f"--current={tmp_path / 'current'}",
            f"--env-file={env_file}",
            "--",
            "-c",
            script,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={**os.environ, "RUNTIME_DIRECTORY": str(runtime)},
    )
    marks = json.loads((runtime / release.RUN_MARKS).read_text())
    assert marks["pid"] == int(result.stdout)
    assert marks["release"] == "r4"
    assert marks["env"] == release.env_digest(env_file)
