#!/usr/bin/python3
"""make status: one table of what matters on a onebox host, read on the host (playbooks/status.yml
runs this with the host's python3, as root; it changes nothing): the live releases, the units,
the certificate's expiry, the newest good backup, the database's replication, the disks, and the
alerts firing now; of these, what the host runs (--parts): a database replica has its units, how far
it is behind, its disks."""

import argparse
import glob
import json
import os
import re
import subprocess
import time
import urllib.request
from datetime import UTC, datetime

ALERTS = "http://127.0.0.1:9093/api/v2/alerts?active=true&silenced=false&inhibited=false"


def run(*argv: str) -> str:
    """A command's output; "" when it fails or hangs (a status never waits on a stuck service)."""
    try:
        result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=20)  # noqa: S603
    except subprocess.TimeoutExpired:
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def age(seconds: float) -> str:
    minutes = int(seconds) // 60
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    return f"{days}d {hours}h" if days else (f"{hours}h {minutes}m" if hours else f"{minutes}m")


def releases(root: str, frontend: str) -> list[tuple[str, str]]:
    rows = []
    for what, link in (("app release", f"{root}/current"), ("frontend release", f"{frontend}/current")):
        rows.append((what, os.path.basename(os.readlink(link)) if os.path.islink(link) else "none"))
    return rows


def units(app: str) -> list[tuple[str, str]]:
    patterns = [
        f"{app}.socket",
        f"{app}.service",
        f"{app}-metrics.service",
        f"{app}-admin.service",
        f"{app}-worker.service",
        f"{app}-beat.service",
        f"{app}-timer-*.timer",
        "redis-server.service",
        "nginx.service",
        "postgresql@*.service",
    ]
    patterns += ["prometheus*.service", "onebox-backup*.timer", "cron.service"]
    listed = run("systemctl", "list-units", "--all", "--plain", "--no-legend", "--full", *patterns)
    rows = []
    for line in listed.splitlines():
        name, _, active, sub = ([*line.split(), "", "", "", ""])[:4]
        rows.append((name, f"{active} ({sub})"))
    failed = run("systemctl", "list-units", "--state=failed", "--plain", "--no-legend", "--full")
    names = [line.split()[0] for line in failed.splitlines() if line.strip()]
    rows.append(("failed units", ", ".join(names) if names else "none"))
    return rows


def certificate(domain: str, now: float) -> list[tuple[str, str]]:
    path = f"/etc/letsencrypt/live/{domain}/cert.pem"
    if not os.path.exists(path):
        return [("certificate", "none (plain HTTP, or not issued yet)")]
    end = run("openssl", "x509", "-enddate", "-noout", "-in", path).removeprefix("notAfter=")
    try:
        expiry = datetime.strptime(end, "%b %d %H:%M:%S %Y %Z").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return [("certificate", f"unreadable ({path})")]
    return [("certificate", f"expires {end} (in {age(expiry - now)})")]


def textfile(path: str) -> dict[str, float]:
    values = {}
    with open(path, encoding="utf-8") as file:
        for line in file:
            match = re.match(r"^(\w+)(\{[^}]*\})? (\S+)$", line.strip())
            if match:
                values[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return values


def backups(metrics_dir: str, now: float) -> list[tuple[str, str]]:
    files = sorted(glob.glob(f"{metrics_dir}/backup-*.prom"))
    if not files:
        return [("backups", "no backup check has run")]
    rows = []
    for path in files:
        values = textfile(path)
        stanza = re.search(r"backup-(.*)\.prom$", path).group(1)
        checked = next((v for k, v in values.items() if k.startswith("onebox_backup_check_timestamp")), 0)
        if not any(k.startswith("onebox_backup_repository_ok") and v == 1 for k, v in values.items()):
            rows.append(
                (f"backups ({stanza})", f"repository unreadable at the check {age(now - checked)} ago")
            )
            continue
        for kind in ("full", "any"):
            stop = next((v for k, v in values.items() if "last_good" in k and f'kind="{kind}"' in k), 0)
            label = "newest full backup" if kind == "full" else "newest backup"
            rows.append((f"{label} ({stanza})", f"{age(now - stop)} ago" if stop else "none"))
        failing = any(k.startswith("onebox_wal_archive_failing") and v == 1 for k, v in values.items())
        rows.append((f"WAL archiving ({stanza})", "FAILING" if failing else "ok"))
    return rows


def sql(query: str) -> list[list[str]]:
    """Rows of a query as postgres over the socket; none when it does not answer. Fields are split on
    the unit separator, which no name holds."""
    out = run(
        "runuser", "-u", "postgres", "--", "psql", "-XAtq", "-F", "\x1f", "-v", "ON_ERROR_STOP=1", "-c", query
    )
    return [line.split("\x1f") for line in out.splitlines() if line]


def size(lag: str) -> str:
    return f"{int(float(lag or 0)) / 2**20:.1f} MB" if lag else "unknown"


def replication() -> list[tuple[str, str]]:
    """A primary's replicas (state, how much WAL each has not replayed) and the slots no replica uses
    (they keep WAL); a standby's primary and how far behind it is."""
    standby = sql("SELECT pg_is_in_recovery()")
    if not standby:
        return [("database", "PostgreSQL does not answer")]
    if standby[0][0] == "t":
        receiver = sql("SELECT status, sender_host FROM pg_stat_wal_receiver")
        behind = sql(
            # A receiver that started again receives from before what was already replayed: never below 0
            # (and unknown, NULL, before it received anything).
            "SELECT CASE WHEN pg_last_wal_receive_lsn() IS NOT NULL"
            " THEN greatest(0, pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())) END,"
            " coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp())::int, -1)"
        )
        status, sender = receiver[0] if receiver else ("NOT STREAMING", "?")
        rows = [("database", f"standby of {sender} ({status.lower() if receiver else status})")]
        if behind:
            replayed = (
                f"last change replayed {age(int(behind[0][1]))} ago"
                if int(behind[0][1]) >= 0
                else "nothing replayed yet"
            )
            rows.append(("replay", f"{size(behind[0][0])} received, not replayed; {replayed}"))
        return rows
    rows = [("database", "primary")]
    for name, state, lag in sql(
        "SELECT application_name, state, pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)"
        " FROM pg_stat_replication"
    ):
        rows.append((f"replica {name}", f"{state}, {size(lag)} not replayed"))
    for name, kept in sql(
        "SELECT slot_name, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)"
        " FROM pg_replication_slots WHERE NOT active"
    ):
        rows.append((f"INACTIVE SLOT {name}", f"keeps {size(kept)} of WAL (no replica streams from it)"))
    return rows


def disks(paths: list[str]) -> list[tuple[str, str]]:
    rows, devices = [], set()
    for path in dict.fromkeys(p for p in paths if os.path.exists(p)):
        if os.stat(path).st_dev in devices:
            continue
        devices.add(os.stat(path).st_dev)
        st = os.statvfs(path)
        used = 1 - st.f_bavail / st.f_blocks if st.f_blocks else 0
        inodes = 1 - st.f_favail / st.f_files if st.f_files else 0
        free = st.f_bavail * st.f_frsize / 2**30
        rows.append((f"disk {path}", f"{used:.0%} used ({free:.1f} GiB free), inodes {inodes:.0%}"))
    return rows


def alerts() -> list[tuple[str, str]]:
    try:
        with urllib.request.urlopen(ALERTS, timeout=5) as response:
            firing = json.load(response)
    except OSError as error:
        return [("alerts", f"Alertmanager does not answer ({error})")]
    if not firing:
        return [("alerts firing", "none")]
    return [(f"FIRING {a['labels'].get('alertname')}", a["annotations"].get("summary", "")) for a in firing]


def table(rows: list[tuple[str, str]]) -> str:
    width = max(len(what) for what, _ in rows)
    return "\n".join(f"{what.ljust(width)}  {value}" for what, value in rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--frontend-dir", required=True)
    parser.add_argument("--domain", required=True)
    parser.add_argument("--metrics-dir", required=True)
    parser.add_argument(
        "--parts",
        default="site,app,db",
        help="what this host runs (plugins/filter/onebox.py): app (releases, site, certificate),"
        " db (backups, replication), replica (replication only)",
    )
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    now = time.time()
    rows = []
    if "app" in parts:
        rows += releases(args.root, args.frontend_dir)
    rows += units(args.app)
    if "app" in parts:
        rows += certificate(args.domain, now)
    if "db" in parts:
        rows += backups(args.metrics_dir, now)
    if parts & {"db", "replica"}:
        rows += replication()
    folders = (
        ["/"]
        + (["/var/lib/postgresql"] if parts & {"db", "replica"} else [])
        + ([args.root] if "app" in parts else [])
    )
    rows += disks(folders) + alerts()
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
