"""The postgresql-replica scenario's replica: a hot standby streaming from the primary over verified TLS."""

import json
import os
import re
import sys
import time
import uuid
from pathlib import Path

import pytest
import testinfra

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))

from database import query
from scenario import playbook, wait_until, words

APP = "portfolio"
CA = "/etc/ssl/onebox/ca.crt"
PROMETHEUS = "http://127.0.0.1:9090"
VERSIONS = {"bookworm": 15, "trixie": 17}

testinfra_hosts = ["db_replica"]


def secret(name):
    return Path(os.environ["ONEBOX_SECRETS_DIR"], name).read_text().split()[0]


def remote(client, password, conninfo, sql="SELECT current_user"):
    """psql from the client host over TCP with a password, never prompting."""
    return client.run("env PGPASSWORD=%s psql -XAtqw %s -c %s", password, conninfo, sql)


@pytest.fixture(scope="module")
def primary(request):
    hosts = testinfra.get_hosts(
        ["db"], connection="ansible", ansible_inventory=request.config.option.ansible_inventory
    )
    assert len(hosts) == 1
    return hosts[0]


@pytest.fixture(scope="module")
def names(host, primary):
    return {
        "replica": host.backend.get_pytest_id().removeprefix("ansible://"),
        "primary": primary.backend.get_pytest_id().removeprefix("ansible://"),
    }


@pytest.fixture(scope="module")
def version(host):
    return VERSIONS[host.system_info.codename]


def test_is_a_hot_standby_streaming_through_its_slot(host, primary, names):
    assert query(host, "SELECT pg_is_in_recovery()") == "t"
    slot = "onebox_" + names["replica"].replace("-", "_")
    assert query(host, "SELECT status, slot_name, sender_host FROM pg_stat_wal_receiver") == (
        f"streaming|{slot}|{names['primary']}"
    )
    assert (
        query(primary, "SELECT slot_name, slot_type, active FROM pg_replication_slots")
        == f"{slot}|physical|t"
    )


def test_the_primary_sends_over_tls_to_the_replication_role(primary, names):
    sent = query(
        primary,
        "SELECT r.usename, r.state, s.ssl FROM pg_stat_replication AS r JOIN pg_stat_ssl AS s USING (pid)",
    )
    assert sent == "replicator|streaming|t"


def test_a_row_written_on_the_primary_is_read_on_the_replica_within_a_second(host, primary):
    """A watcher on the replica polls for the row from before it is written and notes when it sees it;
    the row carries its commit time. Both hosts read the same kernel clock (containers of one machine)."""
    table = "onebox_replication_check"
    query(
        primary, f"CREATE TABLE IF NOT EXISTS {table} (token text PRIMARY KEY, written timestamptz)", db=APP
    )
    token = uuid.uuid4().hex
    seen = f"/run/onebox-test-seen-{token}"
    look = f"runuser -u postgres -- psql -XAtq -d {APP} -c \"SELECT 1 FROM {table} WHERE token = '{token}'\""
    watch = f"until {look} 2>/dev/null | grep -q 1; do sleep 0.01; done; date +%s.%N > {seen}"
    host.check_output("systemd-run --quiet --collect --property=RuntimeMaxSec=60 bash -c %s", watch)
    query(primary, f"INSERT INTO {table} VALUES ('{token}', clock_timestamp())", db=APP)
    deadline = time.monotonic() + 30
    while not host.file(seen).exists and time.monotonic() < deadline:
        time.sleep(0.2)
    assert host.file(seen).exists, "the replica never saw the row"
    seen_at = float(host.file(seen).content_string)
    written_at = float(
        query(primary, f"SELECT extract(epoch FROM written) FROM {table} WHERE token = '{token}'", db=APP)
    )
    assert seen_at - written_at < 1.0, (
        f"the replica read the row {seen_at - written_at:.2f} s after its commit"
    )


def test_the_replica_refuses_writes(host):
    result = host.run(
        "runuser -u postgres -- psql -XAtq -v ON_ERROR_STOP=1 -d %s -c %s",
        APP,
        "CREATE TABLE onebox_written_on_the_replica (id int)",
    )
    assert result.rc != 0
    assert "read-only transaction" in result.stderr


def test_the_reader_reads_on_the_replica_over_verified_tls(host, primary, names):
    conninfo = f"host={names['replica']} dbname={APP} user=analyst sslmode=verify-full sslrootcert={CA}"
    result = remote(
        primary,
        secret("postgresql_analyst_password"),
        conninfo,
        "SELECT s.ssl, count(c.token) > 0 FROM pg_stat_ssl AS s, onebox_replication_check AS c"
        " WHERE s.pid = pg_backend_pid() GROUP BY s.ssl",
    )
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "t|t"
    roles = query(
        host,
        "SELECT rolsuper, pg_has_role('analyst', 'pg_read_all_data', 'member') FROM pg_roles"
        " WHERE rolname = 'analyst'",
    )
    assert roles == "f|t"


def test_the_reader_is_refused_on_the_primary(primary, names):
    conninfo = f"host={names['primary']} dbname={APP} user=analyst sslmode=verify-full sslrootcert={CA}"
    result = remote(primary, secret("postgresql_analyst_password"), conninfo)
    assert result.rc != 0
    assert "no pg_hba.conf entry for host" in result.stderr
    assert 'user "analyst"' in result.stderr


def test_verify_full_refuses_a_name_the_certificate_does_not_carry(host):
    conninfo = f"host=localhost dbname={APP} user=analyst sslmode=verify-full sslrootcert={CA}"
    result = remote(host, secret("postgresql_analyst_password"), conninfo)
    assert result.rc != 0
    assert "does not match host name" in result.stderr


def test_replication_without_tls_is_refused(host, names):
    conninfo = f"host={names['primary']} user=replicator sslmode=disable replication=true"
    result = remote(host, secret("postgresql_replication_password"), conninfo, "IDENTIFY_SYSTEM")
    assert result.rc != 0
    assert "no pg_hba.conf entry" in result.stderr
    assert "no encryption" in result.stderr


def test_keys_stay_private_and_the_ca_key_stays_on_the_controller(host, primary, version):
    for server in (host, primary):
        key = server.file(f"/etc/postgresql/{version}/main/onebox-server.key")
        assert (key.user, key.group, key.mode) == ("postgres", "postgres", 0o600)
        assert server.check_output("ls /etc/ssl/onebox") == "ca.crt"
    passfile = host.file(f"/var/lib/postgresql/{version}/onebox-replication.pgpass")
    assert (passfile.user, passfile.mode) == ("postgres", 0o600)
    assert Path(os.environ["ONEBOX_SECRETS_DIR"], "ca", "ca.key").stat().st_mode & 0o077 == 0


def test_make_status_shows_each_replica_streaming_and_how_far_behind():
    """`make status` (playbooks/status.yml): on the primary, each replica's state and the WAL it has not
    replayed; on the replica (no app, site or backups of its own), its primary and its replay."""
    result = playbook("playbooks/status.yml")
    out = words(result)
    assert result.returncode == 0, out[-3000:]
    assert re.search(r"database +primary", out), out
    assert re.search(r"replica onebox_\S+ +streaming, \d+\.\d MB not replayed", out), out
    assert re.search(r"database +standby of \S+ \(streaming\)", out), out
    assert re.search(
        r"replay +\d+\.\d MB received, not replayed; (last change replayed \d+[mhd]|nothing)", out
    ), out
    assert "INACTIVE SLOT" not in out, out


# ---------------------------------------------------------------------------------------------
# Replication, watched from both ends (roles/monitoring: each host's own Prometheus; the scenario
# paces it in seconds, inventory/local/group_vars/all/monitoring.yml, and alerts when a standby is
# more than 3 s behind, vars/hosts.yml).


def metrics(server, expr: str, label: str = "") -> dict:
    """A PromQL query on the host's Prometheus: each series' value by its `label` ('' for a query of
    one series)."""
    out = server.run("curl -sf %s/api/v1/query --data-urlencode %s", PROMETHEUS, f"query={expr}")
    assert out.rc == 0, out.stderr
    found = json.loads(out.stdout)["data"]["result"]
    return {series["metric"].get(label, ""): float(series["value"][1]) for series in found}


def firing(server) -> dict[str, dict]:
    """The firing alerts of the host's Prometheus: each one's labels by its name."""
    out = server.run("curl -sf %s/api/v1/alerts", PROMETHEUS)
    assert out.rc == 0, out.stderr
    alerts = json.loads(out.stdout)["data"]["alerts"]
    return {a["labels"]["alertname"]: a["labels"] for a in alerts if a["state"] == "firing"}


def fires(server, alert, where) -> dict:
    return wait_until(f"{alert} fires on the {where}", lambda: firing(server).get(alert))


def received(server, alert) -> dict | None:
    """The labels of an alert Alertmanager holds (what it sends to the receivers)."""
    out = server.run("curl -sf http://127.0.0.1:9093/api/v2/alerts")
    assert out.rc == 0, out.stderr
    return next((a["labels"] for a in json.loads(out.stdout) if a["labels"]["alertname"] == alert), None)


def resolves(server, alert, where):
    wait_until(f"{alert} resolves on the {where}", lambda: alert not in firing(server))


def test_replication_is_measured_at_both_ends(host, primary, names):
    standby = query(primary, "SELECT application_name FROM pg_stat_replication")
    slot = "onebox_" + names["replica"].replace("-", "_")

    def primary_sees_it():
        streaming = metrics(primary, "onebox_pg_replica_streaming", "application_name")
        return streaming == {standby: 1.0}

    wait_until("the primary's Prometheus sees the replica stream", primary_sees_it)
    assert metrics(primary, "onebox_pg_slot_active", "slot_name") == {slot: 1.0}
    assert metrics(primary, "onebox_pg_replica_replay_lag_bytes", "application_name")[standby] >= 0
    assert metrics(primary, "onebox_pg_replica_replay_lag_seconds", "application_name")[standby] >= 0
    assert metrics(primary, "onebox_pg_slot_retained_bytes", "slot_name")[slot] >= 0
    assert metrics(primary, "onebox_pg_standby_in_recovery") == {"": 0.0}

    def replica_sees_it():
        return metrics(host, "onebox_pg_standby_streaming") == {"": 1.0}

    wait_until("the replica's Prometheus sees itself stream", replica_sees_it)
    assert metrics(host, "onebox_pg_standby_in_recovery") == {"": 1.0}
    assert metrics(host, "onebox_pg_standby_replay_behind_bytes")[""] >= 0
    assert metrics(host, "onebox_pg_standby_replay_delay_seconds")[""] >= 0
    # A standby sends nothing and has no slot: none of the primary's series.
    assert metrics(host, "onebox_pg_replica_streaming") == {}
    assert metrics(host, "onebox_pg_slot_active") == {}


def test_neither_database_host_watches_a_site_it_does_not_serve(host, primary):
    for server in (host, primary):
        up = metrics(server, "up", "job")
        assert up == dict.fromkeys(("prometheus", "alertmanager", "node", "postgresql"), 1.0), up
        for package in ("prometheus-nginx-exporter", "prometheus-blackbox-exporter", "nginx"):
            assert not server.package(package).is_installed, package
        rules = server.file("/etc/prometheus/onebox-rules.yml").content_string
        assert "StandbyLagging" in rules
        assert "SiteUnreachable" not in rules
        assert "Certificate" not in rules


def test_a_standby_behind_is_alerted_on_itself_then_resolves(host, primary, names):
    """The replica delays its replay (recovery_min_apply_delay) while the primary writes: what it
    shows gets older than monitoring_replication_lag_seconds, StandbyLagging fires there; back to
    no delay, it replays, the alert resolves and the rows are there."""
    table = "onebox_lag_check"
    query(primary, f"CREATE TABLE IF NOT EXISTS {table} (token text PRIMARY KEY)", db=APP)
    wait_until("the table reaches the replica", lambda: query(host, f"SELECT to_regclass('{table}')", db=APP))
    tokens = []

    def lagging():
        # A row a second: the replay process may take the new setting after the first commit came.
        tokens.append(uuid.uuid4().hex)
        query(primary, f"INSERT INTO {table} VALUES ('{tokens[-1]}')", db=APP)
        return "StandbyLagging" in firing(host)

    try:
        query(host, "ALTER SYSTEM SET recovery_min_apply_delay = '1h'")
        query(host, "SELECT pg_reload_conf()")
        wait_until("StandbyLagging fires on the replica", lagging)
        assert metrics(host, "onebox_pg_standby_replay_behind_bytes")[""] > 0
        assert query(host, f"SELECT count(*) FROM {table} WHERE token = '{tokens[-1]}'", db=APP) == "0"
    finally:
        query(host, "ALTER SYSTEM RESET recovery_min_apply_delay")
        query(host, "SELECT pg_reload_conf()")
    resolves(host, "StandbyLagging", "replica")
    listed = ", ".join(f"'{token}'" for token in tokens)
    assert query(host, f"SELECT count(*) FROM {table} WHERE token IN ({listed})", db=APP) == str(len(tokens))
    assert metrics(host, "onebox_pg_standby_replay_delay_seconds") == {"": 0.0}


def test_a_broken_stream_is_alerted_at_each_end_then_resolves(host, primary, names, version):
    """The primary stopped: the replica's StandbyNotStreaming fires. The replica stopped: the
    primary's ReplicaNotStreaming fires for its slot (the WAL it keeps). Each resolves once the
    server is back and the replica streams again."""
    unit = f"postgresql@{version}-main"
    streams = "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"
    with primary.sudo():
        primary.check_output("systemctl stop %s", unit)
        try:
            fires(host, "StandbyNotStreaming", "replica")
        finally:
            primary.check_output("systemctl start %s", unit)
    wait_until("the replica streams again", lambda: query(primary, streams) == "1")
    resolves(host, "StandbyNotStreaming", "replica")

    with host.sudo():
        host.check_output("systemctl stop %s", unit)
        try:
            labels = fires(primary, "ReplicaNotStreaming", "primary")
            # What Alertmanager sends on says which host it came from (Prometheus's external labels).
            sent = wait_until("Alertmanager has it", lambda: received(primary, "ReplicaNotStreaming"))
        finally:
            host.check_output("systemctl start %s", unit)
    wait_until("the replica streams again", lambda: query(primary, streams) == "1")
    resolves(primary, "ReplicaNotStreaming", "primary")
    assert labels["slot_name"] == "onebox_" + names["replica"].replace("-", "_")
    assert (sent["host"], sent["slot_name"]) == (names["primary"], labels["slot_name"])
