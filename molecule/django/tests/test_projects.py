"""Django projects deployed as their authors left them (molecule/django/fixtures), through nginx.

- otherproject: exactly what `django-admin startproject` makes, with a requirements.txt of Django
  alone; no frontend; its root and socket moved by the contract (onebox_root, onebox_socket).
- tutorial: DEBUG = True, hard-coded ALLOWED_HOSTS and STATIC_ROOT, whitenoise, dj-database-url,
  psycopg2, gunicorn 22 pinned, a CRLF requirements.txt; no frontend; a second site on the nginx.

Each must serve over nginx (admin login, static files with immutable caching, migrations on
PostgreSQL) with onebox's settings overlay and onebox's gunicorn.
"""

import json
import os
import re
from pathlib import Path

import pytest

PROJECTS = {
    "otherproject": {
        "domain": "other.test",
        "root": "/opt/otherproject",
        "socket": "/run/otherproject-web/app.sock",
        "metrics": 9201,
    },
    "tutorial": {
        "domain": "tutorial.test",
        "root": "/srv/tutorial",
        "socket": "/run/tutorial/gunicorn.sock",
        "metrics": 9202,
    },
}
NAMES = list(PROJECTS)
# The gunicorn onebox runs every project with (roles/django/files/runtime/gunicorn.in).
GUNICORN = "27.0.1"


def admin_password():
    secrets = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "secrets" / "admin_password"
    return secrets.read_text().split()[0]


def through_nginx(host, name, path, *curl):
    """GET (or what `curl` says) http://<domain><path> through nginx on this host: (status, headers, body)."""
    command = "curl -sS --max-time 20 -D /dev/stderr -H %s " + " ".join(["%s"] * len(curl)) + " %s"
    result = host.run(command, f"Host: {PROJECTS[name]['domain']}", *curl, f"http://127.0.0.1{path}")
    assert result.rc == 0, result.stderr
    head = result.stderr
    status = int(re.search(r"^HTTP/\S+ (\d+)", head, re.MULTILINE).group(1))
    return status, head, result.stdout


def psql(host, name, sql):
    result = host.run("runuser -u %s -- psql -XAtq -v ON_ERROR_STOP=1 -d %s -c %s", name, name, sql)
    assert result.rc == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize("name", NAMES)
def test_the_project_runs_under_systemd(host, name):
    for unit in (f"{name}.socket", f"{name}.service"):
        assert host.service(unit).is_running, unit
    assert host.socket(f"unix://{PROJECTS[name]['socket']}").is_listening


@pytest.mark.parametrize("name", NAMES)
def test_each_project_s_requests_are_counted_by_its_own_metrics_exporter(host, name):
    """Any project gets the request metrics (the overlay's middleware); each app on a host has its
    exporter on its own port (onebox_app_metrics_port)."""
    assert host.service(f"{name}-metrics.service").is_running
    port = PROJECTS[name]["metrics"]
    for _ in range(3):
        assert through_nginx(host, name, "/admin/login/")[0] == 200
    metrics = host.check_output("curl -sf http://127.0.0.1:%s/metrics", str(port))
    wanted = ('method="GET"', 'view="admin:login"', 'status="200"')
    lines = [line for line in metrics.splitlines() if line.startswith("django_http_responses_total{")]
    counted = next((line for line in lines if all(label in line for label in wanted)), None)
    assert counted, metrics
    assert float(counted.split()[-1]) >= 3


@pytest.mark.parametrize("name", NAMES)
def test_the_superuser_logs_in_to_the_admin_through_nginx(host, name):
    jar = f"/tmp/{name}-cookies"
    host.run("rm -f %s", jar)
    status, _, form = through_nginx(host, name, "/admin/login/", "-c", jar)
    assert status == 200, form
    assert "Django administration" in form
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    status, head, body = through_nginx(
        host,
        name,
        "/admin/login/",
        "-b",
        jar,
        "-c",
        jar,
        "--data-urlencode",
        f"csrfmiddlewaretoken={token}",
        "--data-urlencode",
        "username=admin",
        "--data-urlencode",
        f"password={admin_password()}",
        "--data-urlencode",
        "next=/admin/",
    )
    assert status == 302, head + body
    assert re.search(r"^location: /admin/\s*$", head, re.IGNORECASE | re.MULTILINE), head
    status, _, page = through_nginx(host, name, "/admin/", "-b", jar)
    assert status == 200
    assert "Site administration" in page


@pytest.mark.parametrize("name", NAMES)
def test_nginx_serves_the_hashed_static_files_itself_as_immutable(host, name):
    root = PROJECTS[name]["root"]
    manifest = json.loads(host.file(f"{root}/shared/static/staticfiles.json").content_string)
    hashed = manifest["paths"]["admin/css/base.css"]
    assert re.search(r"\.[0-9a-f]{12}\.css$", hashed), hashed
    status, head, body = through_nginx(host, name, f"/static/{hashed}")
    assert status == 200
    assert re.search(r"^cache-control: .*immutable", head, re.IGNORECASE | re.MULTILINE), head
    # nginx's own answer (no gunicorn in the headers' path: Django would not add these).
    assert re.search(r"^server: nginx", head, re.IGNORECASE | re.MULTILINE), head
    assert body == host.file(f"{root}/shared/static/{hashed}").content_string


@pytest.mark.parametrize("name", NAMES)
def test_migrations_ran_on_postgresql_in_the_projects_database(host, name):
    assert int(psql(host, name, "SELECT count(*) FROM django_migrations")) > 10
    assert psql(host, name, "SELECT is_superuser FROM auth_user WHERE username = 'admin'") == "t"
    assert not host.file(f"{PROJECTS[name]['root']}/current/db.sqlite3").exists


@pytest.mark.parametrize("name", NAMES)
def test_debug_is_off_and_slash_is_django_s_not_a_frontend(host, name):
    """No frontend: nginx sends / to Django, whose 404 is the production one (DEBUG off, whatever the
    project's settings say), not the debug page and not nginx's."""
    status, _, body = through_nginx(host, name, "/")
    assert status == 404
    assert "The requested resource was not found on this server." in body
    assert "URLconf" not in body
    assert not host.file(f"{PROJECTS[name]['root']}/frontend").exists


@pytest.mark.parametrize("name", NAMES)
def test_gunicorn_is_onebox_s_whatever_the_project_pins(host, name):
    venv = f"{PROJECTS[name]['root']}/current/.venv"
    version = host.check_output(
        "runuser -u %s -- %s/bin/python -c %s", name, venv, "import gunicorn; print(gunicorn.__version__)"
    )
    assert version == GUNICORN
    pid = host.check_output("systemctl show --property=MainPID --value %s.service", name)
    argv = host.file(f"/proc/{pid}/cmdline").content_string.split("\0")
    assert argv[1:3] == ["-m", "gunicorn"], argv


def test_a_project_with_django_alone_gets_the_postgresql_driver_from_onebox(host):
    venv = f"{PROJECTS['otherproject']['root']}/current/.venv"
    assert host.file(f"{venv}/requirements.txt").content_string == "Django==5.2.19\n"
    assert host.file(f"{venv}/onebox-site/psycopg").is_directory


def test_a_project_s_own_pins_stay_as_its_lock_file_says(host):
    """The tutorial's gunicorn 22 and psycopg2 are installed as pinned (CRLF and all); onebox's
    gunicorn only comes first on the path, and no second PostgreSQL driver is added."""
    venv = f"{PROJECTS['tutorial']['root']}/current/.venv"
    assert "\r\n" in host.file(f"{venv}/requirements.txt").content_string
    assert host.run("ls -d %s/lib/python3*/site-packages/gunicorn-22.0.0.dist-info", venv).rc == 0
    assert not host.file(f"{venv}/onebox-site/psycopg").exists


def test_the_moved_contract_moved_every_role(host):
    """onebox_root and onebox_socket, set once in the play: the app user's home (common), the
    releases and the unit's socket (django) and nginx's upstream and static alias agree on them."""
    root, socket = PROJECTS["otherproject"]["root"], PROJECTS["otherproject"]["socket"]
    assert host.user("otherproject").home == root
    assert host.file(f"{root}/current").is_symlink
    assert not host.file("/srv/otherproject").exists
    assert not host.file("/run/otherproject/gunicorn.sock").exists
    listen = host.check_output("systemctl show --property=Listen --value otherproject.socket")
    assert listen.startswith(socket), listen
    site = host.file("/etc/nginx/sites-enabled/otherproject.conf").content_string
    assert f"unix:{socket}" in site
    assert f"alias {root}/shared/static/" in site
