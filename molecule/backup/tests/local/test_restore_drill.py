"""The restore drill, through the playbooks an operator runs (backup.yml, restore.yml, dump.yml):
rows written, backed up, more rows, a noted time, more rows; a restore to that time holds exactly
the rows up to it, and a restore of the latest backup afterwards holds them all."""

import pytest
from conftest import APP, STANZA, pgbackrest_info, playbook, query, unit_property, wait_until_archived

# Rows per batch: written before the backup, after it and before the noted time, after the time.
BATCHES = {1: 1000, 2: 250, 3: 40}
APP_UNITS = ("portfolio.socket", "portfolio.service")
DRILL_COLUMNS = (
    "id bigserial PRIMARY KEY, batch int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp()"
)
COUNTS = "SELECT batch, count(*) FROM drill GROUP BY batch ORDER BY batch"


def app_query(host, sql):
    return query(host, sql, user=APP, db=APP)


def write_batch(host, batch, rows):
    app_query(host, f"INSERT INTO drill (batch) SELECT {batch} FROM generate_series(1, {rows})")


def batch_counts(host):
    rows = app_query(host, COUNTS)
    return {int(b): int(n) for b, n in (line.split("|") for line in rows.splitlines())}


def server_state(host):
    """What a refused restore must leave as it was: the server's start, the app's run, the rows."""
    return (
        query(host, "SELECT pg_postmaster_start_time()"),
        unit_property(host, "portfolio.service", "InvocationID"),
        app_query(host, "SELECT count(*) FROM refusal_probe"),
    )


def timeline(host):
    return int(query(host, "SELECT timeline_id FROM pg_control_checkpoint()"))


@pytest.fixture(scope="module")
def app_running(host):
    """The stand-in app (prepare.yml) runs, as the real one would before a restore."""
    assert host.run("systemctl start %s %s", *APP_UNITS).rc == 0
    for unit in APP_UNITS:
        assert host.service(unit).is_running


@pytest.fixture(scope="module")
def probe(host, app_running):
    app_query(host, "CREATE TABLE refusal_probe AS SELECT 1 AS id")
    return server_state(host)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({}, "confirm_restore must be the stanza's name"),
        ({"confirm_restore": "production"}, "confirm_restore must be the stanza's name"),
        (
            {"confirm_restore": STANZA, "target_time": "2001-01-01 00:00:00+00"},
            "must lie between the end of the oldest backup",
        ),
        ({"confirm_restore": STANZA, "target_time": "2026-11-25 16:30:00"}, "target_time must be empty"),
    ],
    ids=["no confirmation", "wrong stanza", "target before the backups", "no time zone"],
)
def test_restore_refuses_and_changes_nothing(host, probe, extra, message):
    result = playbook("restore.yml", extra, check=False)
    assert result.returncode != 0, result.stdout
    assert message in result.text, result.stdout[-3000:]
    assert "nothing was changed" in result.text.lower()
    assert "TASK [backup : Stop PostgreSQL]" not in result.stdout
    assert "changed=0" in result.stdout
    assert server_state(host) == probe


def test_restore_drill(host, app_running):
    app_query(host, f"CREATE TABLE drill ({DRILL_COLUMNS})")
    write_batch(host, 1, BATCHES[1])
    backup = playbook("backup.yml")
    assert "FRESH: stanza portfolio, 0 problem(s)" in backup.text

    write_batch(host, 2, BATCHES[2])
    # The noted time, by the database server's clock, after batch 2 committed; its WAL is
    # archived before anything else is written.
    target = query(host, "SELECT clock_timestamp()")
    query(host, "SELECT pg_switch_wal()")
    wait_until_archived(host)
    write_batch(host, 3, BATCHES[3])
    assert batch_counts(host) == BATCHES
    timeline_before = timeline(host)
    app_before = unit_property(host, "portfolio.service", "InvocationID")

    # Batch 3 reaches the repository only because restore.yml archives the WAL in use first.
    playbook("restore.yml", {"confirm_restore": STANZA, "target_time": target})
    after_pitr = batch_counts(host)
    assert after_pitr == {1: BATCHES[1], 2: BATCHES[2]}
    assert app_query(host, f"SELECT max(at) <= '{target}' FROM drill") == "t"
    timeline_pitr = timeline(host)
    assert timeline_pitr > timeline_before
    # The app was stopped and started again, after recovery (its start needs a writable server).
    app_after = unit_property(host, "portfolio.service", "InvocationID")
    assert app_after != app_before
    for unit in APP_UNITS:
        assert host.service(unit).is_running

    # Latest: the newest backup along its own timeline, to the end of the archived WAL.
    playbook("restore.yml", {"confirm_restore": STANZA})
    after_latest = batch_counts(host)
    assert after_latest == BATCHES
    assert timeline(host) > timeline_pitr
    assert host.service("portfolio.service").is_running
    assert host.service("onebox-backup-full.timer").is_running

    print(
        f"\nrestore drill on {host.system_info.codename}: written {BATCHES};"
        f" noted time {target}; after the point-in-time restore {after_pitr} (timeline {timeline_pitr});"
        f" after restoring the latest {after_latest} (timeline {timeline(host)})"
    )


def test_backup_playbook_backs_up_the_new_timeline_and_fails_clearly_when_stale(host):
    """After the drill's restores: a backup on the new timeline, then a check with a zero limit."""
    before = {b["label"] for b in pgbackrest_info(host)["backup"]}
    result = playbook("backup.yml", {"backup_freshness_max_age_hours": 0}, check=False)
    assert result.returncode != 0
    assert "The backups of stanza portfolio are not fresh" in result.text
    assert "STALE newest backup:" in result.text
    # The backup itself was taken, on the timeline the restores left.
    new = [b for b in pgbackrest_info(host)["backup"] if b["label"] not in before]
    assert [b["type"] for b in new] == ["diff"], result.text[-2000:]
    assert int(new[0]["archive"]["start"][:8], 16) == timeline(host)


ROUNDTRIP = "/var/tmp/roundtrip.dump"


def test_dump_reaches_the_controller_and_restores(host, tmp_path):
    result = playbook("dump.yml", {"dump_dir": str(tmp_path)})
    dumps = list(tmp_path.glob(f"inventory-{APP}-*.dump"))
    assert len(dumps) == 1, (list(tmp_path.iterdir()), result.stdout[-2000:])
    dump = dumps[0]
    assert dump.read_bytes()[:5] == b"PGDMP"
    assert host.run("ls /var/tmp/onebox-dump.*").rc != 0, "the dump was left on the host"

    copy = host.ansible("copy", f"src={dump} dest={ROUNDTRIP} mode=0644", check=False, become=True)
    assert not copy.get("failed"), copy
    try:
        query(host, "CREATE DATABASE roundtrip")
        restored = host.run("runuser -u postgres -- pg_restore --no-owner --dbname=roundtrip %s", ROUNDTRIP)
        assert restored.rc == 0, restored.stderr
        assert query(host, COUNTS, db="roundtrip") == app_query(host, COUNTS)
    finally:
        query(host, "DROP DATABASE IF EXISTS roundtrip")
        host.run("rm -f %s", ROUNDTRIP)
    # Dumps hold the app's data: their folder is the operator's alone.
    assert tmp_path.stat().st_mode & 0o777 == 0o700
