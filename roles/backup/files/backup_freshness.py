#!/usr/bin/python3
"""Fail when the newest good pgBackRest backup is older than its schedule allows.

Run as postgres by onebox-backup-freshness.service (hourly) and by playbooks/backup.yml.
It reads `pgbackrest info --output=json` and PostgreSQL's pg_stat_archiver, prints what
it found, and exits 0 when the backups are fresh and WAL archiving works, 1 when not,
2 when it cannot tell. With --textfile it also writes what it found as Prometheus textfile
metrics (node exporter's textfile collector), which the monitoring role's alerts read: the newest
good backup of each kind and the limit it has, WAL archiving's last success and failure, and
whether the repository could be read at all. Installed by roles/backup; local edits are overwritten.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime

PGBACKREST = "/usr/bin/pgbackrest"
PSQL = "/usr/bin/psql"
ARCHIVER = (
    "SELECT json_build_object("
    "'last_archived', extract(epoch FROM last_archived_time), 'last_archived_wal', last_archived_wal,"
    "'last_failed', extract(epoch FROM last_failed_time), 'last_failed_wal', last_failed_wal)"
    " FROM pg_stat_archiver"
)


def span(seconds: float) -> str:
    """3d 4h 5m, for people."""
    minutes = int(seconds) // 60
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{minutes}m"]
    return " ".join(p for p in parts if p) if seconds >= 60 else f"{int(seconds)}s"


def moment(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def run(argv: list[str]) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, check=False, cwd="/")  # noqa: S603
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {result.returncode}: {result.stderr.strip()}")
    return result.stdout


KINDS = (("full", {"full"}), ("any", {"full", "diff", "incr"}))


def newest_good(stanza: dict, types: set[str]) -> dict | None:
    good = [b for b in stanza.get("backup", []) if not b.get("error") and b.get("type") in types]
    return max(good, key=lambda b: b["timestamp"]["stop"]) if good else None


def backup_findings(stanza: dict, now: float, full_max_age: int, max_age: int) -> tuple[list[str], list[str]]:
    """What is wrong (problems) and what is fine (notes) about the stanza's backups."""
    problems: list[str] = []
    notes: list[str] = []
    status = stanza.get("status", {})
    if status.get("code", 0) not in (0, 2):
        problems.append(f"stanza {stanza.get('name')}: {status.get('message')} (code {status.get('code')})")
    limits = (full_max_age, max_age)
    for (_, types), kind, limit in zip(KINDS, ("full backup", "backup"), limits, strict=True):
        newest = newest_good(stanza, types)
        if newest is None:
            problems.append(f"no good {kind} in the repository")
            continue
        stop = newest["timestamp"]["stop"]
        age = now - stop
        line = (
            f"newest {kind}: {newest['label']} ({newest['type']}), finished {moment(stop)}, {span(age)} ago"
        )
        if age > limit:
            problems.append(f"STALE {line}; the limit is {span(limit)}")
        else:
            notes.append(f"{line}; the limit is {span(limit)}")
    if status.get("lock", {}).get("backup", {}).get("held"):
        notes.append("a backup is running now")
    return problems, notes


def archiver_findings(archiver: dict) -> tuple[list[str], list[str]]:
    """WAL archiving fails when its last failure came after its last success."""
    failed, archived = archiver.get("last_failed"), archiver.get("last_archived")
    if failed is not None and (archived is None or failed > archived):
        since = f"; last success {moment(archived)}" if archived is not None else ""
        return [
            f"WAL archiving is failing: {archiver['last_failed_wal']} failed at {moment(failed)}{since}"
            " (see PostgreSQL's log); the recovery point falls behind"
        ], []
    if archived is None:
        return [], ["no WAL segment archived since PostgreSQL started"]
    return [], [f"last WAL segment archived: {archiver['last_archived_wal']} at {moment(archived)}"]


def archive_failing(archiver: dict) -> bool:
    failed, archived = archiver.get("last_failed"), archiver.get("last_archived")
    return failed is not None and (archived is None or failed > archived)


def metrics(stanza_name: str, stanza: dict | None, archiver: dict | None, limits: dict, now: float) -> str:
    """The Prometheus text format of what the check found; a part it could not read is 0 in *_ok
    and absent otherwise, so an alert fires on what is known, not on a guess."""
    label = f'stanza="{stanza_name}"'
    # Listed, but with a status other than ok (0) or no backup yet (2): pgBackRest could not read it.
    readable = stanza is not None and stanza.get("status", {}).get("code", 0) in (0, 2)
    lines = [
        "# HELP onebox_backup_check_timestamp_seconds When the backup check last ran.",
        "# TYPE onebox_backup_check_timestamp_seconds gauge",
        f"onebox_backup_check_timestamp_seconds{{{label}}} {now:.0f}",
        "# HELP onebox_backup_check_max_silence_seconds How long the check may go without running.",
        "# TYPE onebox_backup_check_max_silence_seconds gauge",
        f"onebox_backup_check_max_silence_seconds{{{label}}} {limits.get('silence', 3 * 3600)}",
        "# HELP onebox_backup_repository_ok Whether pgbackrest info could read the stanza (1) or not (0).",
        "# TYPE onebox_backup_repository_ok gauge",
        f"onebox_backup_repository_ok{{{label}}} {int(readable)}",
    ]
    if stanza is not None:
        lines += [
            "# HELP onebox_backup_last_good_timestamp_seconds When the newest good backup of a kind finished"
            " (0: none).",
            "# TYPE onebox_backup_last_good_timestamp_seconds gauge",
        ]
        for kind, types in KINDS:
            newest = newest_good(stanza, types)
            stop = newest["timestamp"]["stop"] if newest else 0
            lines.append(f'onebox_backup_last_good_timestamp_seconds{{{label},kind="{kind}"}} {stop}')
    lines += [
        "# HELP onebox_backup_max_age_seconds How old the newest good backup of a kind may be.",
        "# TYPE onebox_backup_max_age_seconds gauge",
    ]
    lines += [f'onebox_backup_max_age_seconds{{{label},kind="{kind}"}} {limits[kind]}' for kind, _ in KINDS]
    lines += [
        "# HELP onebox_wal_archive_ok Whether PostgreSQL's pg_stat_archiver could be read (1) or not (0).",
        "# TYPE onebox_wal_archive_ok gauge",
        f"onebox_wal_archive_ok{{{label}}} {int(archiver is not None)}",
    ]
    if archiver is not None:
        last_archived = archiver.get("last_archived") or 0
        lines += [
            "# HELP onebox_wal_archive_failing 1 when WAL archiving's last failure came after its last"
            " success.",
            "# TYPE onebox_wal_archive_failing gauge",
            f"onebox_wal_archive_failing{{{label}}} {int(archive_failing(archiver))}",
            "# HELP onebox_wal_archive_last_success_timestamp_seconds When a WAL segment was last archived"
            " (0: never).",
            "# TYPE onebox_wal_archive_last_success_timestamp_seconds gauge",
            f"onebox_wal_archive_last_success_timestamp_seconds{{{label}}} {last_archived:.0f}",
        ]
    return "\n".join(lines) + "\n"


def write_atomically(path: str, text: str) -> None:
    """The collector must never read half a file: write beside it, then rename over it."""
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "w", encoding="utf-8") as file:
        file.write(text)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)


def read_json(argv: list[str], what: str, errors: list[str]):
    try:
        return json.loads(run(argv))
    except (RuntimeError, ValueError) as error:
        errors.append(f"cannot read {what}: {error}")
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stanza", required=True)
    parser.add_argument("--full-max-age", type=int, required=True, help="seconds")
    parser.add_argument("--max-age", type=int, required=True, help="seconds")
    parser.add_argument("--textfile", default="", help="also write the findings here as Prometheus metrics")
    parser.add_argument("--max-silence", type=int, default=3 * 3600, help="seconds the check may not run")
    args = parser.parse_args()

    errors: list[str] = []
    info_argv = [PGBACKREST, f"--stanza={args.stanza}", "--output=json", "info"]
    info = read_json(info_argv, "pgbackrest info", errors)
    archiver = read_json([PSQL, "-XAtq", "-d", "postgres", "-c", ARCHIVER], "pg_stat_archiver", errors)
    stanza = next((s for s in info or [] if s.get("name") == args.stanza), None)
    if info is not None and stanza is None:
        errors.append(f"pgbackrest info does not list stanza {args.stanza}")
    if args.textfile:
        limits = {"full": args.full_max_age, "any": args.max_age, "silence": args.max_silence}
        write_atomically(args.textfile, metrics(args.stanza, stanza, archiver, limits, time.time()))
    if errors:
        if archiver is not None and archive_failing(archiver):
            errors += archiver_findings(archiver)[0]
        for error in errors:
            print(f"UNKNOWN: stanza {args.stanza}: {error}", file=sys.stderr, flush=True)
        return 2

    problems, notes = backup_findings(stanza, time.time(), args.full_max_age, args.max_age)
    more_problems, more_notes = archiver_findings(archiver)
    problems += more_problems
    notes += more_notes
    # Flushed line by line, so the journal keeps the order.
    for note in notes:
        print(note, flush=True)
    for problem in problems:
        print(problem, file=sys.stderr, flush=True)
    verdict = "STALE" if problems else "FRESH"
    print(f"{verdict}: stanza {args.stanza}, {len(problems)} problem(s)", flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
