"""What the converge leaves: WAL archived through pgBackRest, a first backup, timers, and a
freshness check that reports stale backups and failing archiving (real pgBackRest, real units)."""

import re
import time

import pytest
from conftest import STANZA, pgbackrest_info, query, unit_property, wait_until_archived

FRESHNESS = "onebox-backup-freshness.service"
DROP_IN = "/etc/systemd/system/onebox-backup-freshness.service.d/test-limits.conf"


def test_postgresql_archives_through_pgbackrest(host, version):
    assert query(host, "SHOW archive_mode") == "on"
    assert query(host, "SHOW archive_command") == f"pgbackrest --stanza={STANZA} archive-push %p"
    assert query(host, "SHOW archive_timeout") == "1min"
    assert query(host, "SHOW wal_level") == "replica"
    source = query(host, "SELECT sourcefile FROM pg_settings WHERE name = 'archive_mode'")
    assert source == f"/etc/postgresql/{version}/main/conf.d/onebox-backup.conf"
    assert query(host, "SELECT name FROM pg_settings WHERE pending_restart") == ""


def test_a_finished_wal_segment_reaches_the_repository(host):
    segment = query(host, "SELECT pg_walfile_name(pg_switch_wal())")
    # After a switch with nothing written since the last one, the segment is already archived.
    wait_until_archived(host)
    assert query(host, f"SELECT last_archived_wal >= '{segment}' FROM pg_stat_archiver") == "t"
    info = pgbackrest_info(host)
    assert info["archive"][0]["max"] >= segment


def test_configuration_is_readable_by_postgres_only(host):
    config = host.file("/etc/pgbackrest/pgbackrest.conf")
    assert (config.user, config.group, config.mode) == ("root", "postgres", 0o640)
    text = config.content_string
    assert "repo1-path=/var/lib/pgbackrest" in text
    assert "compress-type=zst" in text
    assert "repo1-retention-full=2" in text
    assert "start-fast=y" in text
    repo = host.file("/var/lib/pgbackrest")
    assert (repo.user, repo.mode) == ("postgres", 0o750)


def test_converge_took_a_first_full_backup(host):
    info = pgbackrest_info(host)
    assert info["status"]["code"] == 0, info["status"]
    fulls = [b for b in info["backup"] if b["type"] == "full" and not b["error"]]
    assert fulls, info["backup"]
    assert info["backup"][0]["backrest"]["version"] == host.package("pgbackrest").version.split("-")[0]


def test_the_repository_is_encrypted(host):
    """The inventory's cipher (make init generates one): the repository holds nothing readable without
    it, and the restore drill below restores from it."""
    info = pgbackrest_info(host)
    assert info["cipher"] == "aes-256-cbc", info
    with host.sudo():
        # The WAL archived into the repository is ciphertext: no segment starts with PostgreSQL's page magic.
        segment = host.check_output(
            "find /var/lib/pgbackrest/archive -type f -name '0000*' -print -quit"
        ).strip()
        assert segment, "no WAL segment in the repository"
        head = host.check_output("head -c 64 %s | od -An -c | tr -d ' \n'", segment)
    assert head.startswith("Salted__"), head


@pytest.mark.parametrize(
    ("timer", "calendar", "unit"),
    [
        ("onebox-backup-full.timer", "Sun *-*-* 01:00:00", "onebox-backup@full.service"),
        ("onebox-backup-diff.timer", "Mon..Sat *-*-* 01:00:00", "onebox-backup@diff.service"),
        ("onebox-backup-freshness.timer", "*-*-* *:00:00", FRESHNESS),
    ],
)
def test_timers_are_scheduled(host, timer, calendar, unit):
    assert host.service(timer).is_enabled
    assert host.service(timer).is_running
    assert f"OnCalendar={calendar} ;" in unit_property(host, timer, "TimersCalendar")
    assert unit_property(host, timer, "Unit") == unit
    assert unit_property(host, timer, "Persistent") == "yes"
    assert unit_property(host, timer, "NextElapseUSecRealtime") != ""


def test_backups_run_as_postgres_in_a_sandbox(host):
    unit = "onebox-backup@full.service"
    assert unit_property(host, unit, "User") == "postgres"
    assert unit_property(host, unit, "ProtectSystem") == "strict"
    assert "--type=full" in unit_property(host, unit, "ExecStart")


def start_freshness(host, **limits):
    """Start the freshness unit, with other limits (seconds) in a drop-in when given; (ok, its journal)."""
    if limits:
        # printf %b turns the \n into line breaks on the host; the command itself stays one line.
        lines = "".join(f"Environment={name}={value}\\n" for name, value in limits.items())
        host.run("mkdir -p %s", DROP_IN.rsplit("/", 1)[0])
        assert host.run("printf %%b %s > %s", "[Service]\\n" + lines, DROP_IN).rc == 0
    host.run("systemctl daemon-reload && systemctl reset-failed %s", FRESHNESS)
    cursor = host.check_output("journalctl --show-cursor -n 0 -q | tail -n 1 | sed 's/^-- cursor: //'")
    started = host.run("systemctl start %s && journalctl --sync", FRESHNESS)
    journal = host.check_output("journalctl -u %s --after-cursor=%s --no-pager -o cat", FRESHNESS, cursor)
    if limits:
        host.run("rm -f %s && systemctl daemon-reload", DROP_IN)
    result = unit_property(host, FRESHNESS, "Result")
    assert (started.rc == 0) == (result == "success"), (started.rc, result)
    return started.rc == 0, journal


def newest_backup_age(host):
    stops = [b["timestamp"]["stop"] for b in pgbackrest_info(host)["backup"]]
    return time.time() - max(stops)


def test_freshness_check_passes_after_converge(host):
    ok, journal = start_freshness(host)
    assert ok, journal
    assert "FRESH: stanza portfolio, 0 problem(s)" in journal
    assert re.search(r"newest full backup: \S+F \(full\)", journal), journal


def test_freshness_check_fails_when_the_full_backup_is_too_old(host):
    ok, journal = start_freshness(host, FULL_MAX_AGE=0)
    assert not ok
    assert "STALE newest full backup" in journal
    assert "STALE newest backup:" not in journal
    assert unit_property(host, FRESHNESS, "ActiveState") == "failed"


def test_freshness_check_fails_until_a_backup_is_taken(host):
    limit = 15
    age = newest_backup_age(host)
    if age < limit + 5:
        time.sleep(limit + 5 - age)
    ok, journal = start_freshness(host, MAX_AGE=limit)
    assert not ok
    assert "STALE newest backup:" in journal
    assert "the limit is 15s" in journal

    assert host.run("systemctl start onebox-backup@incr.service").rc == 0
    ok, journal = start_freshness(host, MAX_AGE=limit)
    assert ok, journal
    assert re.search(r"newest backup: \S+I \(incr\)", journal), journal


def test_freshness_check_fails_while_wal_archiving_fails(host):
    archive = f"/var/lib/pgbackrest/archive/{STANZA}"
    mode = host.check_output("stat -c %%a %s", archive)
    failures = int(query(host, "SELECT failed_count FROM pg_stat_archiver"))
    host.run("chmod 0000 %s", archive)
    try:
        query(host, "CREATE TABLE IF NOT EXISTS archiving_probe (at timestamptz)")
        query(host, "INSERT INTO archiving_probe VALUES (now())")
        query(host, "SELECT pg_switch_wal()")
        deadline = time.monotonic() + 30
        while int(query(host, "SELECT failed_count FROM pg_stat_archiver")) == failures:
            assert time.monotonic() < deadline, "archive-push never failed"
            time.sleep(0.5)
        ok, journal = start_freshness(host)
        assert not ok
        assert "WAL archiving is failing" in journal
    finally:
        host.run("chmod %s %s", mode, archive)
    query(host, "INSERT INTO archiving_probe VALUES (now())")
    query(host, "SELECT pg_switch_wal()")
    wait_until_archived(host)
    ok, journal = start_freshness(host)
    assert ok, journal
