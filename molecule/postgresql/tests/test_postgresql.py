"""The postgresql role, socket only: what the app and everyone else can and cannot do."""

import re

import pytest

APP = "portfolio"
VERSIONS = {"bookworm": 15, "trixie": 17}
MEMORY_UNITS = {"B": 1, "kB": 1024, "8kB": 8192, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


def psql(host, sql, user="postgres", db="postgres"):
    """Run SQL over the unix socket as an OS user, peer-authenticated."""
    return host.run("runuser -u %s -- psql -XAtq -v ON_ERROR_STOP=1 -d %s -c %s", user, db, sql)


def query(host, sql, user="postgres", db="postgres"):
    result = psql(host, sql, user, db)
    assert result.rc == 0, result.stderr
    return result.stdout.strip()


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


def test_debian_postgresql_runs_as_the_cluster_unit(host, version):
    assert int(query(host, "SHOW server_version_num")) // 10000 == version
    assert host.service(f"postgresql@{version}-main").is_running
    assert host.service("postgresql").is_enabled


def test_app_connects_by_peer_over_the_socket(host):
    assert query(host, "SELECT current_user, inet_server_addr() IS NULL", APP, APP) == f"{APP}|t"


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


def test_nothing_listens_on_tcp(host):
    listening = host.check_output("ss -ltnH")
    assert ":5432 " not in listening, listening
    assert query(host, "SHOW listen_addresses") == ""
    result = host.run("psql -XAtq -h 127.0.0.1 -U postgres -d postgres -w -c 'SELECT 1'")
    assert result.rc != 0
    assert "Connection refused" in result.stderr


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


def test_no_setting_waits_for_a_restart(host):
    assert query(host, "SELECT name FROM pg_settings WHERE pending_restart") == ""
    assert query(host, "SELECT name, error FROM pg_file_settings WHERE error IS NOT NULL") == ""


def test_app_role_has_no_privileges(host):
    sql = (
        "SELECT rolsuper, rolcreatedb, rolcreaterole, rolcanlogin, rolpassword IS NULL"
        f" FROM pg_authid WHERE rolname = '{APP}'"
    )
    assert query(host, sql) == "f|f|f|t|t"


def test_app_owns_its_utf8_database(host):
    sql = (
        "SELECT pg_get_userbyid(datdba), pg_encoding_to_char(encoding), datcollate, datctype"
        f" FROM pg_database WHERE datname = '{APP}'"
    )
    assert query(host, sql) == f"{APP}|UTF8|C.UTF-8|C.UTF-8"


def test_hba_holds_only_the_peer_lines(host):
    rows = query(
        host,
        "SELECT type, array_to_string(database, ','), array_to_string(user_name, ','),"
        " coalesce(address, ''), auth_method, coalesce(error, '')"
        " FROM pg_hba_file_rules ORDER BY line_number",
    )
    assert rows.splitlines() == [
        "local|all|postgres||peer|",
        f"local|{APP}|{APP}||peer|",
        # The monitoring role's postgres exporter (onebox_monitoring), to the postgres database only.
        "local|postgres|prometheus||peer|",
    ]
    # It reads statistics (pg_monitor) and nothing else.
    member = "SELECT rolsuper, pg_has_role('prometheus', 'pg_monitor', 'member') FROM pg_roles"
    member += " WHERE rolname = 'prometheus'"
    assert query(host, member) == "f|t"
    assert query(host, "SHOW password_encryption") == "scram-sha-256"
