#!/usr/bin/env python3
"""Run the molecule scenarios of molecule/matrix.yml, two at a time, and print where the time went.

    scripts/molecule.py [SCENARIO[:DISTRO] ...]

With no arguments every (scenario, distro) pair of the matrix runs; with arguments only those
(a scenario alone: on each distro the matrix gives it, or on every distro with MOLECULE_MATRIX=full).

MOLECULE_DISTROS   distros that may run (default "debian12 debian13"); a scenario whose matrix distros
                   are all filtered out runs on the first of these instead
MOLECULE_MATRIX    "full": every scenario on every distro of MOLECULE_DISTROS, not the matrix's pick
MOLECULE_JOBS      pairs run side by side (default 2)
MOLECULE_IMAGE     the image for every pair (default onebox/<distro>:latest)

Pairs start longest first (the matrix's estimates, or the last run's times in
.cache/molecule-times.json). Pairs of one distro that run at once get an apt archive cache each
(MOLECULE_APT_SLOT, which .config/molecule/config.yml adds to the cache's folder): apt locks the
folder, so two hosts cannot share one. Logs: .cache/molecule-logs/.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
MATRIX = ROOT / "molecule" / "matrix.yml"
LOGS = ROOT / ".cache" / "molecule-logs"
TIMES = ROOT / ".cache" / "molecule-times.json"
TABLE = ROOT / ".cache" / "test-times" / "molecule.txt"


@dataclass
class Job:
    scenario: str
    distro: str
    estimate: float
    rc: int | None = None
    seconds: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)
    apt_slot: int = 0

    @property
    def name(self) -> str:
        return f"{self.scenario}-{self.distro}"


def load_matrix() -> dict:
    with MATRIX.open() as f:
        return yaml.safe_load(f)


def plan(args: list[str], matrix: dict, allowed: list[str], full: bool) -> list[Job]:
    scenarios = matrix["scenarios"]
    try:
        history = json.loads(TIMES.read_text())
    except (OSError, ValueError):
        history = {}
    wanted: list[tuple[str, str | None]] = []
    for arg in args or list(scenarios):
        name, _, distro = arg.partition(":")
        if name not in scenarios:
            sys.exit(f"molecule.py: no scenario {name!r} in {MATRIX.relative_to(ROOT)}")
        wanted.append((name, distro or None))
    jobs = []
    for name, distro in wanted:
        entry = scenarios[name]
        if distro:
            distros = [distro]
        elif full:
            distros = allowed
        else:
            distros = [d for d in entry["distros"] if d in allowed] or allowed[:1]
        for d in distros:
            estimate = history.get(f"{name}-{d}", entry.get("estimate", 300))
            jobs.append(Job(name, d, float(estimate)))
    return sorted(jobs, key=lambda j: -j.estimate)


ACTION = re.compile(r"^INFO\s+\[[^\]>]+ > ([a-z_]+)\] Executing")


def run(job: Job, image: str | None) -> None:
    """molecule test, its output into the log; the time of each action is taken as it starts."""
    log = LOGS / f"{job.name}.log"
    env = {
        **os.environ,
        "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "MOLECULE_DISTRO": job.distro,
        "MOLECULE_IMAGE": image or f"onebox/{job.distro}:latest",
        "MOLECULE_APT_SLOT": str(job.apt_slot),
        "MOLECULE_EPHEMERAL_DIRECTORY": str(ROOT / ".cache" / "molecule" / job.name),
        "ANSIBLE_FORCE_COLOR": "0",
        "PY_COLORS": "0",
        "NO_COLOR": "1",
    }
    start = time.monotonic()
    action, since = "", start
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["molecule", "test", "-s", job.scenario],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
        )
        for line in proc.stdout:
            out.write(line)
            match = ACTION.match(line)
            if match:
                now = time.monotonic()
                if action:
                    job.stages[action] = job.stages.get(action, 0.0) + now - since
                action, since = match.group(1), now
        job.rc = proc.wait()
    job.seconds = time.monotonic() - start
    if action:
        job.stages[action] = job.stages.get(action, 0.0) + time.monotonic() - since


def report(job: Job) -> str:
    log = LOGS / f"{job.name}.log"
    if job.rc == 0:
        return f"  ok    {job.scenario} on {job.distro} ({job.seconds:.0f} s)"
    tail = log.read_text(errors="replace").splitlines()[-120:]
    return "\n".join(
        [f"  FAIL  {job.scenario} on {job.distro} ({job.seconds:.0f} s); last lines of {log}:"]
        + ["        " + line for line in tail]
    )


def main(argv: list[str]) -> int:
    allowed = os.environ.get("MOLECULE_DISTROS", "debian12 debian13").split()
    full = os.environ.get("MOLECULE_MATRIX", "") == "full"
    slots = int(os.environ.get("MOLECULE_JOBS", "2"))
    image = os.environ.get("MOLECULE_IMAGE") or None
    jobs = plan(argv, load_matrix(), allowed, full)
    LOGS.mkdir(parents=True, exist_ok=True)

    pending = list(jobs)
    running: dict[str, Job] = {}
    lock = threading.Condition()
    started = time.monotonic()
    print(f"molecule: {len(jobs)} runs, {slots} at a time: " + ", ".join(j.name for j in jobs), flush=True)

    def worker(job: Job) -> None:
        try:
            run(job, image)
        except Exception as error:  # the run could not start: it counts as failed, with the reason
            job.rc = 127
            with (LOGS / f"{job.name}.log").open("a") as out:
                out.write(f"scripts/molecule.py: {error!r}\n")
        finally:
            with lock:
                print(report(job), flush=True)
                running.pop(job.name, None)
                lock.notify_all()

    with lock:
        while pending or running:
            if pending and len(running) < slots:
                job = pending.pop(0)
                taken = {other.apt_slot for other in running.values() if other.distro == job.distro}
                job.apt_slot = min(set(range(len(taken) + 1)) - taken)
                thread = threading.Thread(target=worker, args=(job,), daemon=True)
                running[job.name] = job
                thread.start()
                continue
            lock.wait()

    wall = time.monotonic() - started
    columns = ["create", "prepare", "converge", "idempotence", "side_effect", "verify", "destroy"]
    heads = ["create", "prepare", "converge", "idempot.", "side eff.", "verify", "destroy"]
    width = max([len("scenario"), *(len(j.scenario) for j in jobs)]) + 2
    lines = [
        "molecule: time per run (s)",
        f"  {'scenario':<{width}}{'distro':<10}{'total':>7}"
        + "".join(f"{h:>10}" for h in heads)
        + "  result",
    ]
    for job in sorted(jobs, key=lambda j: (j.scenario, j.distro)):
        cells = "".join(f"{job.stages[c]:>10.0f}" if c in job.stages else f"{'-':>10}" for c in columns)
        lines.append(
            f"  {job.scenario:<{width}}{job.distro:<10}{job.seconds:>7.0f}{cells}  "
            + ("ok" if job.rc == 0 else "FAILED")
        )
    lines.append(f"  sum of runs {sum(j.seconds for j in jobs):.0f} s, wall time {wall:.0f} s")
    table = "\n".join(lines)
    print("\n" + table)
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    TABLE.write_text(table + "\n")
    try:
        history = json.loads(TIMES.read_text())
    except (OSError, ValueError):
        history = {}
    history.update({j.name: round(j.seconds) for j in jobs if j.rc == 0})
    TIMES.write_text(json.dumps(history, indent=1, sort_keys=True) + "\n")
    return 0 if all(j.rc == 0 for j in jobs) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
