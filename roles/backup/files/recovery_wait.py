#!/usr/bin/python3
"""Wait until a restored PostgreSQL cluster has finished recovery (replayed its WAL and promoted).

Run as root by roles/backup's restore tasks:

    recovery_wait.py --unit postgresql@15-main --timeout 3600

Exits 0 once `pg_is_in_recovery()` is false, 1 at once when the cluster's unit stops (a recovery
target it cannot reach stops the server, PostgreSQL 13+), 2 when the timeout passes first.
Installed by roles/backup; local edits are overwritten.
"""

import argparse
import subprocess
import sys
import time

RUNUSER = "/usr/sbin/runuser"
SYSTEMCTL = "/usr/bin/systemctl"
QUERY = ["-u", "postgres", "--", "psql", "-XAtq", "-d", "postgres", "-c", "SELECT pg_is_in_recovery()"]


def state(unit: str) -> str:
    """'done' when recovery is over, 'recovering', or 'stopped' when the unit is not active."""
    answer = subprocess.run([RUNUSER, *QUERY], capture_output=True, text=True, check=False)  # noqa: S603
    if answer.returncode == 0 and answer.stdout.strip() in ("f", "t"):
        return "done" if answer.stdout.strip() == "f" else "recovering"
    active = subprocess.run([SYSTEMCTL, "is-active", "--quiet", unit], check=False)  # noqa: S603
    return "recovering" if active.returncode == 0 else "stopped"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unit", required=True, help="the cluster's systemd unit")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait at most")
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.timeout
    while True:
        now = state(args.unit)
        if now == "done":
            print("PostgreSQL finished recovery and accepts writes.")
            return 0
        if now == "stopped":
            print(f"PostgreSQL stopped during recovery: see journalctl -u {args.unit}.", file=sys.stderr)
            return 1
        if time.monotonic() > deadline:
            print(f"PostgreSQL is still in recovery after {args.timeout:.0f} s.", file=sys.stderr)
            return 2
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
