"""The postgresql-replica scenario's app host (group app): the bundled app on a host of its own, its
database on the primary, reached over the private network with TLS checked against onebox's
internal CA (verify-full) and the app's own password (scram-sha-256), as the roles' defaults make it
for a group app. Runs before the failover tests (file order), while the primary is the primary."""

import json
import os
import sys
import time
import uuid
from pathlib import Path

import pytest
import testinfra

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))

import app_api
from database import query

APP = "portfolio"
CA = "/etc/ssl/onebox/ca.crt"
VENV_PYTHON = f"/srv/{APP}/current/.venv/bin/python"

testinfra_hosts = ["app"]


def other(request, group):
    hosts = testinfra.get_hosts(
        [group], connection="ansible", ansible_inventory=request.config.option.ansible_inventory
    )
    assert len(hosts) == 1
    return hosts[0]


@pytest.fixture(scope="module")
def primary(request):
    return other(request, "db")


@pytest.fixture(scope="module")
def replica(request):
    return other(request, "db_replica")


@pytest.fixture(scope="module")
def addresses(host, primary):
    def address(of):
        return of.ansible("setup", "filter=ansible_default_ipv4")["ansible_facts"]["ansible_default_ipv4"][
            "address"
        ]

    return {"app": address(host), "primary": address(primary)}


@pytest.fixture(scope="module")
def password():
    value = Path(os.environ["ONEBOX_SECRETS_DIR"], "db_password").read_text().split()[0]
    assert len(value) == 32
    return value


def connect(client, **conninfo):
    """A psycopg connection from the app's virtualenv on the client host, as the app's OS user: its
    error, or ''."""
    program = (
        "import psycopg, sys\n"
        "try:\n"
        f"    psycopg.connect(**{conninfo!r}, connect_timeout=5).close()\n"
        "except psycopg.Error as error:\n"
        "    print(error)\n"
    )
    return client.check_output("runuser -u %s -- %s -c %s", APP, VENV_PYTHON, program)


def test_the_app_reads_its_database_on_the_primary_with_verified_tls(host, addresses):
    env = host.file(f"/etc/{APP}/env").content_string
    assert f'DB_HOST="{addresses["primary"]}"' in env
    assert 'DB_PORT="5432"' in env
    assert 'DB_SSLMODE="verify-full"' in env
    assert f'PGSSLROOTCERT="{CA}"' in env
    assert host.file(CA).exists
    status, body = app_api.request(host, "/health/")
    assert status == 200, body
    assert json.loads(body) == {"status": "ok", "database": "ok"}


def test_the_app_host_runs_no_database_and_the_primary_no_app(host, primary):
    assert not [
        line
        for line in host.check_output("dpkg-query -W -f '${Package}\\n'").split()
        if line.startswith("postgresql-1")
    ]
    assert ":5432 " not in host.check_output("ss -ltnH") + " "
    assert host.service(f"{APP}.socket").is_running
    for unit in (f"{APP}.socket", f"{APP}.service", "nginx.service"):
        assert primary.run("systemctl cat %s", unit).rc != 0, unit


def test_a_row_the_app_writes_is_stored_on_the_primary_and_read_on_the_replica(host, primary, replica):
    symbol = "A" + uuid.uuid4().hex[:6].upper()
    status, body = app_api.post_holding(host, symbol, quantity="2", cost_basis="10.00")
    assert status == 201, body
    sql = f"SELECT quantity, cost_basis FROM portfolios_holding WHERE symbol = '{symbol}'"
    assert query(primary, sql, db=APP) == "2.000000|10.00"
    deadline = time.monotonic() + 10
    while query(replica, sql, db=APP) != "2.000000|10.00":
        assert time.monotonic() < deadline, "the replica never showed the app's row"
        time.sleep(0.2)


def test_the_primary_sees_the_app_over_tls_with_a_scram_password(host, primary, addresses):
    # gunicorn's workers keep their connection (CONN_MAX_AGE): one request opens one.
    assert app_api.request(host, "/health/")[0] == 200
    sessions = query(
        primary,
        "SELECT DISTINCT a.client_addr, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)"
        f" WHERE a.usename = '{APP}' AND a.client_addr IS NOT NULL",
    )
    assert sessions.splitlines() == [f"{addresses['app']}|t"]
    verifier = query(
        primary, f"SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = '{APP}'"
    )
    assert verifier == "t"


def test_the_app_role_is_refused_without_tls_a_wrong_password_or_from_another_host(
    host, replica, addresses, password
):
    target = {"host": addresses["primary"], "dbname": APP, "user": APP}
    plain = connect(host, **target, password=password, sslmode="disable")
    assert "no pg_hba.conf entry" in plain, plain
    wrong = connect(host, **target, password=password + "x", sslmode="verify-full", sslrootcert=CA)
    assert "password authentication failed" in wrong, wrong
    good = connect(host, **target, password=password, sslmode="verify-full", sslrootcert=CA)
    assert good == "", good
    # The replica's firewall lets it reach the primary (replication), but pg_hba admits the app's role
    # from the app's hosts only.
    result = replica.run(
        "env PGPASSWORD=%s psql -XAtqw %s -c 'SELECT 1'",
        password,
        f"host={addresses['primary']} dbname={APP} user={APP} sslmode=verify-full sslrootcert={CA}",
    )
    assert result.rc != 0
    assert "no pg_hba.conf entry for host" in result.stderr, result.stderr
