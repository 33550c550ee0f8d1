"""The postgresql-replica scenario's primary: TCP for a role with a password, after a socket-only start."""

import json
import os
import re
import socket
from pathlib import Path

import pytest

APP = "portfolio"
USER = "reporting"
VERSIONS = {"bookworm": 15, "trixie": 17}

testinfra_hosts = ["db"]


def query(host, sql, user="postgres", db="postgres"):
    result = host.run("runuser -u %s -- psql -XAtq -v ON_ERROR_STOP=1 -d %s -c %s", user, db, sql)
    assert result.rc == 0, result.stderr
    return result.stdout.strip()


def tcp(host, password, conninfo, sql="SELECT current_user"):
    """psql over TCP with a password, never prompting."""
    return host.run("env PGPASSWORD=%s psql -XAtqw %s -c %s", password, conninfo, sql)


@pytest.fixture(scope="module")
def version(host):
    return VERSIONS[host.system_info.codename]


@pytest.fixture(scope="module")
def password():
    """The generated vault-style secret that converge.yml gave the role."""
    secret = Path(os.environ["ONEBOX_SECRETS_DIR"], "postgresql_reporting_password")
    value = secret.read_text().split()[0]
    assert len(value) == 32
    return value


@pytest.fixture(scope="module")
def private(host):
    """The address of the host's default route, on the scenario's private network."""
    facts = host.ansible("setup", "filter=ansible_default_ipv4")["ansible_facts"]
    return facts["ansible_default_ipv4"]["address"]


def marker(host, name):
    return json.loads(host.file(f"/var/tmp/onebox-test/{name}.json").content_string)


def test_listens_on_localhost_and_its_private_address_only(host, private):
    listening = [line.split()[3] for line in host.check_output("ss -ltnH").splitlines()]
    on_5432 = {address for address in listening if address.endswith(":5432")}
    assert {"127.0.0.1:5432", f"{private}:5432"} <= on_5432
    assert on_5432 <= {"127.0.0.1:5432", "[::1]:5432", f"{private}:5432"}, on_5432


def test_postgresql_is_dropped_for_hosts_outside_the_groups(host, private):
    """The controller is in no group: its connection to 5432 is dropped, while sshd's port answers it."""
    with socket.create_connection((private, 22), timeout=5):
        pass
    with pytest.raises(TimeoutError), socket.create_connection((private, 5432), timeout=3):
        pass
    rules = host.check_output("nft list chain inet onebox input")
    assert re.search(r"ip saddr [0-9.]+ tcp dport 5432 accept", rules), rules


def test_right_password_connects_with_scram(host, password):
    # channel_binding=require only succeeds through SCRAM-SHA-256-PLUS: no other method binds.
    conninfo = f"host=127.0.0.1 dbname={APP} user={USER} sslmode=require channel_binding=require"
    result = tcp(host, password, conninfo)
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == USER
    plain = tcp(host, password, f"host=127.0.0.1 dbname={APP} user={USER} sslmode=disable")
    assert plain.rc == 0, plain.stderr


def test_wrong_password_is_refused(host, password):
    result = tcp(host, password + "x", f"host=127.0.0.1 dbname={APP} user={USER} sslmode=disable")
    assert result.rc != 0
    assert f'password authentication failed for user "{USER}"' in result.stderr


def test_password_is_stored_as_a_scram_verifier(host):
    sql = f"SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = '{USER}'"
    assert query(host, sql) == "t"


@pytest.mark.parametrize(
    ("user", "db"),
    [(USER, "postgres"), (APP, APP), ("postgres", "postgres")],
)
def test_only_the_listed_tcp_entry_connects(host, password, user, db):
    result = tcp(host, password, f"host=127.0.0.1 dbname={db} user={user} sslmode=disable")
    assert result.rc != 0
    assert "no pg_hba.conf entry" in result.stderr


def test_hba_tcp_entries_use_scram_and_replication_tls(host):
    rows = query(
        host,
        "SELECT type, array_to_string(database, ','), array_to_string(user_name, ','), auth_method"
        " FROM pg_hba_file_rules WHERE type <> 'local' ORDER BY line_number",
    )
    assert rows.splitlines() == [
        f"host|{APP}|{USER}|scram-sha-256",
        "hostssl|replication|replicator|scram-sha-256",
    ]


def test_app_still_connects_by_peer(host):
    assert query(host, "SELECT current_user, inet_server_addr() IS NULL", APP, APP) == f"{APP}|t"


def test_reload_change_kept_the_server_running_and_tcp_restarted_it(host, version):
    first, reloaded = marker(host, "after-first-converge"), marker(host, "after-reload-change")
    assert reloaded["work_mem"] == "7MB"
    assert reloaded["started"] == first["started"], "a work_mem change restarted the server"
    restarted = query(host, f"SELECT pg_postmaster_start_time() > '{reloaded['started']}'::timestamptz")
    assert restarted == "t", "the listen_addresses change did not restart the server"
    drop_in = host.file(f"/etc/postgresql/{version}/main/conf.d/onebox.conf").content_string
    work_mem = re.search(r"^work_mem = '(\d+MB)'$", drop_in, re.MULTILINE).group(1)
    assert work_mem != "7MB"
    live = f"SELECT pg_size_bytes(current_setting('work_mem')) = pg_size_bytes('{work_mem}')"
    assert query(host, live) == "t"


def test_no_setting_waits_for_a_restart(host):
    assert query(host, "SELECT name FROM pg_settings WHERE pending_restart") == ""
    assert query(host, "SELECT name, error FROM pg_file_settings WHERE error IS NOT NULL") == ""


def test_password_stays_out_of_the_server_log(host, version, password):
    log = host.file(f"/var/log/postgresql/postgresql-{version}-main.log")
    assert log.exists
    assert password not in log.content_string
