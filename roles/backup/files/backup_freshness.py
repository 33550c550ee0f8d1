#!/usr/bin/python3
"""Fail when the newest good pgBackRest backup is older than its schedule allows.

Run as postgres by onebox-backup-freshness.service (hourly) and by playbooks/backup.yml.
It reads `pgbackrest info --output=json` and PostgreSQL's pg_stat_archiver, prints what
it found, and exits 0 when the backups are fresh and WAL archiving works, 1 when not,
2 when it cannot tell. Installed by roles/backup; local edits are overwritten.
"""

import argparse
import json
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


def backup_findings(stanza: dict, now: float, full_max_age: int, max_age: int) -> tuple[list[str], list[str]]:
    """What is wrong (problems) and what is fine (notes) about the stanza's backups."""
    problems: list[str] = []
    notes: list[str] = []
    status = stanza.get("status", {})
    if status.get("code", 0) not in (0, 2):
        problems.append(f"stanza {stanza.get('name')}: {status.get('message')} (code {status.get('code')})")
    good = [b for b in stanza.get("backup", []) if not b.get("error")]
    for kind, types, limit in (
        ("full backup", {"full"}, full_max_age),
        ("backup", {"full", "diff", "incr"}, max_age),
    ):
        candidates = [b for b in good if b.get("type") in types]
        if not candidates:
            problems.append(f"no good {kind} in the repository")
            continue
        newest = max(candidates, key=lambda b: b["timestamp"]["stop"])
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stanza", required=True)
    parser.add_argument("--full-max-age", type=int, required=True, help="seconds")
    parser.add_argument("--max-age", type=int, required=True, help="seconds")
    args = parser.parse_args()

    try:
        info = json.loads(run([PGBACKREST, f"--stanza={args.stanza}", "--output=json", "info"]))
        archiver = json.loads(run([PSQL, "-XAtq", "-d", "postgres", "-c", ARCHIVER]))
    except (RuntimeError, ValueError) as error:
        print(f"UNKNOWN: cannot read the backups of stanza {args.stanza}: {error}", file=sys.stderr)
        return 2
    stanza = next((s for s in info if s.get("name") == args.stanza), None)
    if stanza is None:
        print(f"UNKNOWN: pgbackrest info does not list stanza {args.stanza}", file=sys.stderr)
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
