"""The postgresql-replica scenario's primary: the role's defaults (socket only, as prepare.yml left it),
what the app and everyone else can and cannot do, then TCP for a role with a password."""

import json
import os
import re
import socket
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))

from database import psql, query

APP = "portfolio"
USER = "reporting"
VERSIONS = {"bookworm": 15, "trixie": 17}
MEMORY_UNITS = {"B": 1, "kB": 1024, "8kB": 8192, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}

testinfra_hosts = ["db"]


def tcp(host, password, conninfo, sql="SELECT current_user"):
    """psql over TCP with a password, never prompting."""
    return host.run("env PGPASSWORD=%s psql -XAtqw %s -c %s", password, conninfo, sql)


@pytest.fixture(scope="module")
def version(host):
    return VERSIONS[host.system_info.codename]


@pytest.fixture(scope="module")
def drop_in(host, version):
    """The settings of conf.d/onebox.conf, as written."""
    content = host.file(f"/etc/postgresql/{version}/main/conf.d/onebox.conf").content_string
    settings = dict(re.findall(r"^(\w+) = '((?:[^']|'')*)'$", content, re.MULTILINE))
    assert settings, content
    return {name: value.replace("''", "'") for name, value in settings.items()}


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
    assert re.search(r"ip saddr (\{ [0-9., ]+ \}|[0-9.]+) tcp dport 5432 accept", rules), rules


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
        # The app's host (group app), over TLS only: test_app_host.py connects through it.
        f"hostssl|{APP}|{APP}|scram-sha-256",
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


# The role's defaults, as prepare.yml's first converge left the primary (its marker) and as they stay.
PEER_LINES = [
    "local|all|postgres||peer|",
    f"local|{APP}|{APP}||peer|",
    # The monitoring role's postgres exporter (onebox_monitoring), to the postgres database only.
    "local|postgres|prometheus||peer|",
]


def test_by_default_nothing_listens_on_tcp(host):
    first = marker(host, "after-first-converge")
    assert first["listen_addresses"] == ""
    assert [address for address in first["listening"] if address.endswith(":5432")] == []


def test_by_default_hba_holds_only_the_peer_lines(host):
    assert marker(host, "after-first-converge")["hba"] == PEER_LINES
    rows = query(
        host,
        "SELECT type, array_to_string(database, ','), array_to_string(user_name, ','),"
        " coalesce(address, ''), auth_method, coalesce(error, '')"
        " FROM pg_hba_file_rules WHERE type = 'local' ORDER BY line_number",
    )
    assert rows.splitlines() == PEER_LINES
    # The exporter's role reads statistics (pg_monitor) and nothing else.
    member = "SELECT rolsuper, pg_has_role('prometheus', 'pg_monitor', 'member') FROM pg_roles"
    member += " WHERE rolname = 'prometheus'"
    assert query(host, member) == "f|t"
    assert query(host, "SHOW password_encryption") == "scram-sha-256"


def test_debian_postgresql_runs_as_the_cluster_unit(host, version):
    assert int(query(host, "SHOW server_version_num")) // 10000 == version
    assert host.service(f"postgresql@{version}-main").is_running
    assert host.service("postgresql").is_enabled


def test_app_creates_tables_in_its_database(host):
    query(host, "CREATE TABLE onebox_probe (id int PRIMARY KEY, note text)", APP, APP)
    try:
        query(host, "INSERT INTO onebox_probe VALUES (1, 'written by the app')", APP, APP)
        note = query(host, "SELECT note FROM onebox_probe WHERE id = 1", APP, APP)
        assert note == "written by the app"
        owner = "SELECT tableowner FROM pg_tables WHERE tablename = 'onebox_probe'"
        assert query(host, owner, APP, APP) == APP
    finally:
        query(host, "DROP TABLE IF EXISTS onebox_probe", APP, APP)


def test_peer_lets_only_the_matching_os_user_in(host):
    result = host.run("runuser -u nobody -- psql -XAtq -U %s -d %s -c 'SELECT 1'", APP, APP)
    assert result.rc != 0
    assert f'Peer authentication failed for user "{APP}"' in result.stderr


def test_app_reaches_only_its_own_database(host):
    result = psql(host, "SELECT 1", APP, "postgres")
    assert result.rc != 0
    assert "no pg_hba.conf entry" in result.stderr


def test_running_server_uses_the_drop_in(host, drop_in):
    names = ",".join(f"'{name}'" for name in drop_in)
    columns = "name, setting, coalesce(unit, ''), vartype"
    rows = query(host, f"SELECT {columns} FROM pg_settings WHERE name IN ({names})")
    live = {}
    for row in rows.splitlines():
        name, setting, unit, vartype = row.split("|")
        live[name] = (setting, unit, vartype)
    assert set(live) == set(drop_in)
    for name, wanted in drop_in.items():
        setting, unit, vartype = live[name]
        if unit in MEMORY_UNITS:
            number, wanted_unit = re.fullmatch(r"(\d+)(\w+)", wanted).groups()
            assert int(setting) * MEMORY_UNITS[unit] == int(number) * MEMORY_UNITS[wanted_unit], name
        elif vartype == "real":
            assert float(setting) == float(wanted), name
        else:
            assert setting == wanted, name


def test_sizes_follow_the_host(host, drop_in):
    memory_mb = int(host.check_output("awk '/^MemTotal:/ {print $2}' /proc/meminfo")) // 1024
    cpus = int(host.check_output("grep -c ^processor /proc/cpuinfo"))
    workers = 2 * cpus + 1
    max_connections = workers * 2 + 20
    shared_buffers = memory_mb // 4
    assert drop_in["max_connections"] == str(max_connections)
    assert drop_in["shared_buffers"] == f"{shared_buffers}MB"
    assert drop_in["effective_cache_size"] == f"{memory_mb * 3 // 4}MB"
    assert drop_in["maintenance_work_mem"] == f"{min(memory_mb // 16, 2048)}MB"
    work_mem = max((memory_mb - shared_buffers) // (max_connections * 3), 4)
    assert drop_in["work_mem"] == f"{work_mem}MB"
    assert drop_in["random_page_cost"] == "1.1"
    assert drop_in["password_encryption"] == "scram-sha-256"


def test_app_role_has_no_privileges(host):
    """Its password is for the app's host of its own (group app, test_app_host.py), a SCRAM verifier;
    on this host it logs in by peer (test_app_still_connects_by_peer)."""
    sql = (
        "SELECT rolsuper, rolcreatedb, rolcreaterole, rolcanlogin, rolpassword LIKE 'SCRAM-SHA-256$%'"
        f" FROM pg_authid WHERE rolname = '{APP}'"
    )
    assert query(host, sql) == "f|f|f|t|t"


def test_app_owns_its_utf8_database(host):
    sql = (
        "SELECT pg_get_userbyid(datdba), pg_encoding_to_char(encoding), datcollate, datctype"
        f" FROM pg_database WHERE datname = '{APP}'"
    )
    assert query(host, sql) == f"{APP}|UTF8|C.UTF-8|C.UTF-8"
