#!/usr/bin/env python3
"""onebox-release: the host's half of onebox's releases, for the django and frontend roles alike.

The roles ship this file (the release role installs it as /usr/local/sbin/onebox-release) and call
it with arguments; it uses only the standard library and the host's systemctl and journalctl.

    onebox-release lock acquire|release|show   the deploy lock of an app (one run at a time)
    onebox-release history add|show|pair       the history of deploys, one (app, frontend) pair a line
    onebox-release keep                        the releases to keep, from the history and the links
    onebox-release prune                       remove releases (and shared files) no kept release has
    onebox-release publish                     hard-link a release's files into a shared folder
    onebox-release check                       GET paths through a unix socket until they answer
    onebox-release wait-ready                  wait until a gunicorn unit's workers have loaded the app
    onebox-release running                     what a unit's gunicorn started with (release, env, venv)
    onebox-release candidate                   start a release on its own socket, check it, stop it
    onebox-release converge                    make the app's units run what `current` says
    onebox-release settle                      the followers a converge restarted keep running it
    onebox-release serve                       (ExecStart) exec gunicorn for what `current` says now
    onebox-release run                         (ExecStart) exec the release's python (Celery, manage.py)
    onebox-release cleanup                     stop what a dead run left (candidates, handovers)

Every command prints one line of JSON on success (`changed` says whether it changed anything) and
exits non-zero with a message that says what to do on failure.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import html.parser
import http.client
import itertools
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

LOCK_DIR = Path(os.environ.get("ONEBOX_LOCK_DIR", "/run/onebox"))
READY = re.compile(r"onebox: worker (\d+) ready")
# Output kept for a message: the end of it, where the exception is.
TAIL = 2000


class Failure(Exception):
    """A failure with a message for the operator; exit status 1 unless given."""

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def stamp(moment: dt.datetime | None = None) -> str:
    return (moment or utcnow()).strftime("%Y-%m-%dT%H:%M:%SZ")


def tail(text: str, limit: int = TAIL) -> str:
    """The end of a long text (where tracebacks put the exception), marked when cut."""
    text = text.strip()
    return text if len(text) <= limit else "[...] " + text[-limit:]


# ---------------------------------------------------------------------------------------------
# processes and units


def proc_stat(pid: int) -> tuple[int, int, str] | None:
    """(parent pid, start time in clock ticks since boot, command name) of a process, or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # comm is in parentheses and may itself hold spaces or parentheses.
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[19]), comm


def proc_cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def alive(pid: int, start: int) -> bool:
    stat = proc_stat(pid)
    return stat is not None and stat[1] == start


def session_anchor(pid: int | None = None) -> dict | None:
    """The process whose life is the controller's connection: an SSH session (the child of the sshd
    listener) or a Mitogen interpreter; None when there is neither (then only the lease says
    whether the run is alive)."""
    pid = pid or os.getpid()
    chain = []
    seen = set()
    while pid > 1 and pid not in seen:
        seen.add(pid)
        stat = proc_stat(pid)
        if stat is None:
            break
        chain.append((pid, stat))
        pid = stat[0]
    # An SSH session: the highest process whose parent is the listening sshd.
    for (child, child_stat), (_parent, parent_stat) in itertools.pairwise(chain):
        if parent_stat[2] == "sshd" and parent_stat[0] == 1 and child_stat[2].startswith("sshd"):
            return {"pid": child, "start": child_stat[1], "kind": "ssh session"}
    # A Mitogen interpreter lives as long as its controller (docker exec, or local).
    for candidate, stat in reversed(chain):
        if any("mitogen" in part for part in proc_cmdline(candidate)[:3]):
            return {"pid": candidate, "start": stat[1], "kind": "mitogen"}
    return None


def systemctl(*args: str, check: bool = False) -> subprocess.CompletedProcess:
    # The host's own systemctl, with unit names the roles pass.
    return subprocess.run(["systemctl", *args], capture_output=True, text=True, check=check)  # noqa: S603, S607


def unit_show(unit: str, *names: str) -> dict[str, str]:
    out = systemctl("show", unit, *(f"--property={n}" for n in names)).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def journal(unit: str, lines: int = 30, invocation: str = "") -> str:
    """What the unit's processes wrote (not systemd's lines about it), the last `lines`, and how
    its main process ended when it did."""
    args = ["journalctl", "--no-pager", "--quiet", "--output=cat", "--lines", str(lines)]
    args += [f"_SYSTEMD_INVOCATION_ID={invocation}"] if invocation else [f"_SYSTEMD_UNIT={unit}"]
    out = subprocess.run(args, capture_output=True, text=True, check=False).stdout  # noqa: S603
    state = unit_show(unit, "ActiveState", "Result", "ExecMainStatus")
    if state.get("ActiveState") in ("failed", "inactive") and state.get("Result", "success") != "success":
        out += f"({unit}: {state.get('Result')}, exit status {state.get('ExecMainStatus')})\n"
    return out


# ---------------------------------------------------------------------------------------------
# the deploy lock


class Lock:
    """One run at a time per app. The record (JSON) says who holds it, since when, through which
    connection (its anchor) and until when its lease runs; every call of the same run renews it.
    A record whose anchor process is gone, or whose lease ran out, belongs to a dead run and is
    taken over. Reads and writes of the record happen under flock on a second file."""

    def __init__(self, app: str, directory: Path = LOCK_DIR):
        self.app = app
        directory.mkdir(mode=0o755, parents=True, exist_ok=True)
        self.record = directory / f"{app}.lock.json"
        self.mutex = directory / f"{app}.lock"

    @contextlib.contextmanager
    def exclusive(self):
        with self.mutex.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def read(self) -> dict | None:
        try:
            return json.loads(self.record.read_text())
        except (FileNotFoundError, ValueError):
            return None

    def write(self, data: dict) -> None:
        tmp = self.record.with_suffix(".tmp")
        tmp.write_text(json.dumps(data) + "\n")
        os.replace(tmp, self.record)

    @staticmethod
    def dead(record: dict, now: float) -> str:
        """Why the holder of `record` is dead, or '' when it may be alive."""
        anchor = record.get("anchor")
        if anchor and not alive(anchor["pid"], anchor["start"]):
            return f"its {anchor['kind']} (pid {anchor['pid']}) has ended"
        if now > record.get("lease_until", 0):
            return f"its lease ran out at {stamp(dt.datetime.fromtimestamp(record['lease_until'], dt.UTC))}"
        return ""

    def acquire(self, run: str, holder: str, wait: float, lease: float, anchor: dict | None) -> dict:
        started = time.monotonic()
        deadline = started + wait
        # The last live run this one found holding the lock: said when the lock is got, so that a
        # run that paused says for whom (a run that died says so as the one taken over instead).
        waited_for = None
        while True:
            with self.exclusive():
                now = time.time()
                current = self.read()
                if current is None or current["run"] == run or self.dead(current, now):
                    took_over = ""
                    if current and current["run"] != run:
                        took_over = (
                            f"took over the lock of {current['holder']} (since {current['since']}): "
                            f"{self.dead(current, now)}"
                        )
                    mine = current if current and current["run"] == run else {}
                    record = {
                        "run": run,
                        "holder": holder,
                        "since": mine.get("since", stamp()),
                        "anchor": anchor or mine.get("anchor"),
                        "lease_until": now + lease,
                        "pid": os.getpid(),
                    }
                    self.write(record)
                    waited = ""
                    if waited_for and not took_over:
                        seconds = time.monotonic() - started
                        waited = (
                            f"waited {seconds:.0f} s for the run of {waited_for['holder']} "
                            f"(since {waited_for['since']}, run {waited_for['run']}) to end"
                        )
                    return {"changed": not mine, "held": record, "took_over": took_over, "waited": waited}
                waited_for = current
            if time.monotonic() >= deadline:
                raise Failure(
                    f"{self.app} is being deployed by {current['holder']} since {current['since']} "
                    f"(run {current['run']}); waited {wait:.0f} s. Try again when it is done; a run "
                    "that died releases the lock when its connection ends or its lease runs out "
                    f"({stamp(dt.datetime.fromtimestamp(current['lease_until'], dt.UTC))}).",
                    status=3,
                )
            time.sleep(1)

    def release(self, run: str) -> dict:
        with self.exclusive():
            current = self.read()
            if current and current["run"] == run:
                self.record.unlink()
                return {"changed": True}
            return {"changed": False, "held_by": current}

    def holder(self) -> dict | None:
        with self.exclusive():
            current = self.read()
            if current:
                current["dead"] = self.dead(current, time.time())
            return current


# ---------------------------------------------------------------------------------------------
# the history: one JSON object a line, each the pair that went live (or failed) and when


class History:
    """One JSON object a line. A "live" entry is the (app, frontend) pair that serves after a run
    changed either half; one run writes one such line (the roles of a run fill in their halves).
    A "failed" entry names a release that never went live, and why."""

    def __init__(self, path: Path):
        self.path = path

    def entries(self) -> list[dict]:
        try:
            lines = self.path.read_text().splitlines()
        except FileNotFoundError:
            return []
        entries = []
        for line in lines:
            with contextlib.suppress(ValueError):
                entries.append(json.loads(line))
        return entries

    def _write(self, entries: list[dict]) -> None:
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with tmp.open("w") as f:
            for entry in entries:
                f.write(json.dumps(entry, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    @contextlib.contextmanager
    def locked(self):
        with self.path.with_name(f".{self.path.name}.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def add(self, entry: dict, legacy: list[dict] | None = None) -> dict:
        """Append `entry`; a live entry of a run that already wrote one replaces it, and a live
        entry lacking a half takes it from the pair that was live before."""
        entry = {k: v for k, v in entry.items() if v not in (None, "")}
        with self.locked():
            entries = self.entries()
            if not entries and legacy:
                entries = list(legacy)
            if entry.get("status") == "live":
                run = entry.get("run")
                halves = [h for h in ("app", "frontend") if h in entry]
                last = entries[-1] if entries else {}
                # The other role's half of the same run's deploy completes its line; the same half
                # switched twice in one run (a playbook that deploys twice) is two deploys.
                if (
                    run
                    and last.get("run") == run
                    and last.get("status") == "live"
                    and not set(halves) & set(last.get("changed", []))
                ):
                    previous = entries.pop()
                    entry = {**previous, **entry}
                    halves = [*previous.get("changed", []), *halves]
                entry["changed"] = halves
                before = next((e for e in reversed(entries) if e.get("status") == "live"), {})
                for half in ("app", "frontend"):
                    if half not in entry and before.get(half):
                        entry[half] = before[half]
            entry = {"at": stamp(), **entry}
            entries.append(entry)
            self._write(entries)
        return entry

    def last_live_has(self, **halves: str) -> bool:
        """The newest live entry already names these halves (empty ones are not compared)."""
        last = next((e for e in reversed(self.entries()) if e.get("status") == "live"), None)
        return last is not None and all(last.get(k) == v for k, v in halves.items() if v)

    def live_pairs(self) -> list[tuple[str, str]]:
        """(app, frontend) pairs that went live, newest first, each once."""
        pairs: list[tuple[str, str]] = []
        for entry in reversed(self.entries()):
            if entry.get("status") != "live":
                continue
            pair = (entry.get("app", ""), entry.get("frontend", ""))
            if pair not in pairs:
                pairs.append(pair)
        return pairs


def legacy_history(app_log: Path | None, frontend_log: Path | None, current: dict[str, str]) -> list[dict]:
    """Entries from the files onebox kept before the shared history: the django role's releases.log
    ("<time> <id>" lines, in the order they went live) and the frontend's history (ids, oldest first)."""
    entries: list[dict] = []
    if app_log and app_log.is_file():
        for line in app_log.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2:
                entries.append({"at": parts[0], "app": parts[1], "status": "live", "run": "before-history"})
    if frontend_log and frontend_log.is_file():
        for fid in frontend_log.read_text().split():
            entries.append(
                {"frontend": fid, "app": current.get("app", ""), "status": "live", "run": "before-history"}
            )
    if entries and any(current.values()):
        entries.append({**{k: v for k, v in current.items() if v}, "status": "live", "run": "before-history"})
    for entry in entries:
        entry.setdefault("at", "")
    return [{k: v for k, v in e.items() if v} for e in entries]


def plan_rollback(
    history: History,
    current: dict[str, str],
    present: dict[str, set[str] | None],
    app: str = "",
    frontend: str = "",
) -> dict:
    """The pair a rollback goes to: the named release(s), with the other half from the pair they last
    went live in; else the newest pair that went live before the current one. Only releases on disk."""
    pairs = history.live_pairs()
    # A half the caller does not know (the django role does not read the frontend's link) is the
    # one the history says went live last.
    latest = pairs[0] if pairs else ("", "")
    now = (current.get("app") or latest[0], current.get("frontend") or latest[1])

    def on_disk(kind: str, rid: str) -> bool:
        return not rid or present[kind] is None or rid in present[kind]

    usable = [p for p in pairs if on_disk("app", p[0]) and on_disk("frontend", p[1])]
    if app or frontend:
        for name, value in (("app", app), ("frontend", frontend)):
            if value and not on_disk(name, value):
                half = 0 if name == "app" else 1
                variable = "django_rollback_release" if name == "app" else "frontend_rollback_release"
                known = ", ".join(dict.fromkeys(p[half] for p in usable if p[half])) or "none"
                raise Failure(
                    f"{variable} {value!r} is not a release on this host that can serve (it is missing or "
                    f"marked FAILED); releases that went live and are still on disk, newest first: {known}."
                )
        match = next(
            (p for p in pairs if (not app or p[0] == app) and (not frontend or p[1] == frontend)), None
        )
        target = (app or (match[0] if match else now[0]), frontend or (match[1] if match else now[1]))
    else:
        target = next((p for p in usable if p != now), None)
        if target is None:
            raise Failure(
                f"No earlier release pair is on disk to go back to (current is app {now[0] or '-'}, "
                f"frontend {now[1] or '-'})."
            )
    return {
        "changed": False,
        "app": target[0],
        "frontend": target[1],
        "from": {"app": now[0], "frontend": now[1]},
    }


def history_table(entries: list[dict], current: tuple[str, str]) -> str:
    """The history for people: one line a deploy, oldest first."""
    lines = [f"{'when':<20}  {'status':<6}  {'app':<12}  {'frontend':<16}  {'by':<24}  reason"]
    for entry in entries:
        app, frontend = entry.get("app") or "-", entry.get("frontend") or "-"
        when, status, by = entry.get("at", ""), entry.get("status", ""), entry.get("by", "")[:24]
        lines.append(
            f"{when:<20}  {status:<6}  {app:<12}  {frontend:<16}  {by:<24}  {entry.get('reason', '')[:160]}"
        )
    if len(lines) == 1:
        lines.append("(no deploys recorded yet)")
    lines.append(f"live now: app {current[0] or '-'}, frontend {current[1] or '-'}")
    return "\n".join(lines)


def link_target(link: Path) -> str:
    """The release a `current` link points to, or ''."""
    try:
        return Path(os.readlink(link)).name
    except OSError:
        return ""


def keep(history: History, keep_count: int, current: dict[str, str]) -> dict[str, list[str]]:
    """Releases to keep per kind: those of the last `keep_count` live pairs, and the current ones."""
    kept: dict[str, list[str]] = {"app": [], "frontend": []}
    for app_id, frontend_id in history.live_pairs()[:keep_count]:
        for kind, rid in (("app", app_id), ("frontend", frontend_id)):
            if rid and rid not in kept[kind]:
                kept[kind].append(rid)
    for kind, rid in current.items():
        if rid and rid not in kept[kind]:
            kept[kind].append(rid)
    return kept


def prune_venvs(venvs: Path, releases: Path, kept: list[str]) -> list[str]:
    """Remove the virtualenvs (and unfinished builds) no kept release links to."""
    used = set()
    for rid in kept:
        with contextlib.suppress(OSError):
            used.add(Path(os.readlink(releases / rid / ".venv")).name)
    removed = []
    if venvs.is_dir():
        for entry in sorted(venvs.iterdir()):
            if entry.name not in used:
                shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
                removed.append(entry.name)
    return removed


def prune(releases: Path, kept: list[str], shared: list[tuple[Path, str]]) -> dict:
    """Remove release folders (and unfinished `.name.partial` ones) not kept; then, for each
    (shared folder, subfolder) pair, the shared files that no kept release has under subfolder."""
    removed = []
    if releases.is_dir():
        for entry in sorted(releases.iterdir()):
            if entry.name in kept:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed.append(entry.name)
    unshared = []
    for folder, sub in shared:
        if not folder.is_dir():
            continue
        # A kept release from before releases had their own copy of these files still reads the
        # shared folder itself: leave it whole.
        if any(not (releases / rid / sub).is_dir() for rid in kept if (releases / rid).is_dir()):
            continue
        present = set()
        for rid in kept:
            base = releases / rid / sub
            if base.is_dir():
                present |= {p.relative_to(base).as_posix() for p in base.rglob("*") if not p.is_dir()}
        for path in sorted(folder.rglob("*"), reverse=True):
            rel = path.relative_to(folder).as_posix()
            if path.is_dir():
                with contextlib.suppress(OSError):
                    path.rmdir()  # only when empty
            elif rel not in present:
                path.unlink()
                unshared.append(rel)
    return {"changed": bool(removed or unshared), "removed": removed, "unshared": len(unshared)}


def servable(releases: Path) -> set[str]:
    """Complete releases on disk that are not marked FAILED."""
    if not releases.is_dir():
        return set()
    return {
        entry.name
        for entry in releases.iterdir()
        if entry.is_dir() and not entry.name.startswith(".") and not (entry / "FAILED").exists()
    }


def publish(source: Path, target: Path) -> dict:
    """Hard-link every file under `source` into `target` (same relative path), replacing a differing
    file by a rename, so a reader sees the old file or the new one. Files already there stay."""
    linked = 0
    if not source.is_dir():
        return {"changed": False, "linked": 0}
    for path in sorted(source.rglob("*")):
        if path.is_dir():
            continue
        dest = target / path.relative_to(source)
        if dest.exists() and (os.path.samefile(path, dest) or same_content(path, dest)):
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        # setgid folders hand their group down; keep the mode of the folder we create.
        tmp = dest.with_name(f".{dest.name}.onebox-new")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        try:
            os.link(path, tmp)
        except OSError as error:
            if error.errno != errno.EXDEV:
                raise
            shutil.copy2(path, tmp)
        os.replace(tmp, dest)
        linked += 1
    return {"changed": linked > 0, "linked": linked}


def same_content(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    return file_digest(a) == file_digest(b)


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# HTTP through a unix socket, and what to say when it fails


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


class _Text(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self.skip:
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip and data.strip():
            self.parts.append(" ".join(data.split()))


def readable(body: bytes, content_type: str) -> str:
    """A response body as text: HTML without its markup, scripts and styles."""
    text = body.decode("utf-8", errors="replace")
    if "html" in content_type or text.lstrip().lower().startswith(("<!doctype html", "<html")):
        parser = _Text()
        parser.feed(text)
        text = "\n".join(parser.parts)
    return text


def hints(status: int | None, text: str, host: str) -> list[str]:
    found = []
    # Django's production 400 says only "Bad Request": that is ALLOWED_HOSTS nearly always.
    if "DisallowedHost" in text or "Invalid HTTP_HOST header" in text or status == 400:
        found.append(
            f"The check sent Host {host!r}, which Django's ALLOWED_HOSTS does not list: set "
            "django_allowed_hosts (default: onebox_domain and its aliases) to include it, or "
            "django_health_host to a name it lists."
        )
    if "PermissionError" in text:
        found.append(
            "The app tried to write where it may not (releases are read-only to it; only "
            "shared/media is writable): point the setting at shared/media or /tmp."
        )
    if status in (301, 302, 307, 308) and "https" in text.lower():
        found.append(
            "It redirected to https: the check sends X-Forwarded-Proto: https only when django_https is true."
        )
    return found


def get(socket_path: str, host: str, path: str, https: bool, timeout: float) -> tuple[int, str, str]:
    conn = UnixHTTPConnection(socket_path, timeout)
    headers = {"Host": host, "Accept": "application/json, text/html;q=0.9"}
    if https:
        headers["X-Forwarded-Proto"] = "https"
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        return (
            response.status,
            response.getheader("Content-Type", ""),
            readable(body, response.getheader("Content-Type", "")),
        )
    finally:
        conn.close()


def unit_gone(unit: str, restarts_before: int | None) -> str:
    """Why `unit` is not serving any more ('' while it is)."""
    if not unit:
        return ""
    props = unit_show(unit, "ActiveState", "NRestarts", "InvocationID")
    if props.get("ActiveState") not in ("active", "activating", "reloading"):
        return f"{unit} is {props.get('ActiveState', 'unknown')}"
    if restarts_before is not None and int(props.get("NRestarts") or 0) > restarts_before:
        return f"{unit} crashed and was restarted"
    return ""


def check(
    socket_path: str,
    host: str,
    paths: list[str],
    https: bool,
    unit: str,
    retries: int,
    delay: float,
    timeout: float = 10.0,
) -> dict:
    """Every path must answer 200. Connection errors and 502/503/504 are retried (a booting app);
    other answers are final. Stops at once when the unit stops or crashes."""
    restarts = int(unit_show(unit, "NRestarts").get("NRestarts") or 0) if unit else None
    answered = {}
    for path in paths:
        last = ""
        for _attempt in range(max(1, retries)):
            gone = unit_gone(unit, restarts)
            if gone:
                raise Failure(f"{gone} before it answered GET {path}:\n{tail(journal(unit, 40))}")
            try:
                status, _ctype, text = get(socket_path, host, path, https, timeout)
            except (OSError, http.client.HTTPException) as error:
                last = f"no answer ({error.__class__.__name__}: {error})"
                time.sleep(delay)
                continue
            if status == 200:
                answered[path] = status
                break
            last = f"{status}"
            if status in (502, 503, 504):
                time.sleep(delay)
                continue
            # Not retried: a 4xx (or 500) is the app's answer, not a slow boot. The journal says
            # why when the page does not (Django's production 400 page is two words).
            logged = journal(unit, 20) if unit else ""
            message = [f"GET {path} (Host {host}) through {socket_path} answered {status}:", tail(text, 1500)]
            message += hints(status, text + "\n" + logged, host)
            if unit:
                message += [f"Last lines of {unit}'s journal:", tail(logged, 1500)]
            raise Failure("\n".join(message))
        else:
            message = [f"GET {path} (Host {host}) through {socket_path}: {last} after {retries} tries."]
            if unit:
                message += [f"Last lines of {unit}'s journal:", tail(journal(unit, 20), 1500)]
            raise Failure("\n".join(message))
    return {"changed": False, "answered": answered}


def wait_ready(unit: str, workers: int, timeout: float) -> dict:
    """Until `workers` workers of the unit's current run have loaded the app (the gunicorn hook that
    `serve` installs logs "onebox: worker <pid> ready"). Fails at once when the unit stops or
    restarts, with its journal."""
    props = unit_show(unit, "InvocationID", "NRestarts", "ActiveState")
    invocation = props.get("InvocationID", "")
    restarts = int(props.get("NRestarts") or 0)
    deadline = time.monotonic() + timeout
    ready: set[str] = set()
    while True:
        now = unit_show(unit, "InvocationID", "NRestarts", "ActiveState", "MainPID")
        if now.get("ActiveState") not in ("active", "activating", "reloading") or (
            now.get("InvocationID") != invocation or int(now.get("NRestarts") or 0) > restarts
        ):
            state = now.get("ActiveState")
            raise Failure(
                f"{unit} {'stopped' if state != 'active' else 'restarted'} while its workers booted "
                f"({state}); its last lines:\n{tail(journal(unit, 40, invocation))}"
            )
        lines = journal(unit, 500, invocation)
        ready = set(READY.findall(lines))
        pids = set(children(int(now.get("MainPID") or 0)))
        if len(ready & pids) >= workers:
            return {"changed": False, "ready": len(ready & pids), "invocation": invocation}
        if time.monotonic() > deadline:
            raise Failure(
                f"{unit}: {len(ready & pids)} of {workers} workers loaded the app after {timeout:.0f} s; "
                f"its last lines:\n{tail(journal(unit, 40, invocation))}"
            )
        time.sleep(0.2)


def children(pid: int) -> list[str]:
    if pid <= 0:
        return []
    try:
        raw = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return raw.split()


# ---------------------------------------------------------------------------------------------
# what a unit runs, and making the app's service run what is on disk


def env_digest(path: Path) -> str:
    try:
        return file_digest(path)[:16]
    except FileNotFoundError:
        return ""


def running(unit: str) -> dict:
    """What the unit's gunicorn master started with, from its own command line (serve puts the
    release, the env file's digest and the virtualenv there)."""
    props = unit_show(unit, "ActiveState", "MainPID", "InvocationID")
    pid = int(props.get("MainPID") or 0)
    argv = proc_cmdline(pid) if pid else []
    facts = {
        "active": props.get("ActiveState") == "active" and pid > 0,
        "pid": pid,
        "release": "",
        "env": "",
        "venv": "",
    }
    # gunicorn's `--env NAME=value` (serve), or the interpreter's `-X onebox_NAME=value` (run).
    marks = {
        "--env": {"ONEBOX_RELEASE": "release", "ONEBOX_ENV_DIGEST": "env"},
        "-X": {"onebox_release": "release", "onebox_env": "env"},
    }
    for i, arg in enumerate(argv):
        value = argv[i + 1] if i + 1 < len(argv) else ""
        name, _, text = value.partition("=")
        if arg in marks and name in marks[arg]:
            facts[marks[arg][name]] = text
    if argv:
        facts["venv"] = str(Path(argv[0]).parent.parent)
    if pid and not facts["release"]:
        facts.update(run_marks(unit, pid))
    return facts


def run_marks(unit: str, pid: int) -> dict:
    """What `run` wrote into the unit's RuntimeDirectory before it exec'd: for a process whose
    title a library rewrote (setproctitle), which hides the marks of its command line."""
    names = unit_show(unit, "RuntimeDirectory").get("RuntimeDirectory", "").split()
    for name in names:
        try:
            marks = json.loads((RUN_DIR / name / RUN_MARKS).read_text())
        except (OSError, ValueError):
            continue
        if marks.get("pid") == pid:
            return {key: marks.get(key, "") for key in ("release", "env", "venv")}
    return {}


def wanted(current: Path, env_file: Path) -> dict:
    release = Path(os.path.realpath(current))
    return {
        "release": release.name if current.is_symlink() else "",
        "env": env_digest(env_file),
        "venv": os.path.realpath(release / ".venv"),
    }


def started_at(unit: str) -> float:
    """When the unit's current run started (seconds since the epoch), 0 when it is not running."""
    out = systemctl("show", unit, "--property=ActiveEnterTimestamp", "--timestamp=unix").stdout.strip()
    value = out.split("=", 1)[1] if "=" in out else ""
    return float(value.lstrip("@")) if value.lstrip("@").replace(".", "", 1).isdigit() else 0.0


def defined_at(unit: str) -> float:
    """When the unit's definition (its file and drop-ins) last changed."""
    props = unit_show(unit, "FragmentPath", "DropInPaths")
    paths = [props.get("FragmentPath", ""), *props.get("DropInPaths", "").split()]
    times = [os.stat(path).st_mtime for path in paths if path and os.path.exists(path)]
    return max(times, default=0.0)


def outdated(unit: str) -> bool:
    """The unit runs, but was started before its definition last changed."""
    started = started_at(unit)
    return started > 0 and defined_at(unit) > started


def matches(facts: dict, want: dict) -> bool:
    return facts["active"] and all(facts[k] == want[k] for k in ("release", "env", "venv"))


def converge(args) -> dict:
    """Make `args.unit` run what `current` and the env file say, without a moment in which nothing
    accepts on the socket: when it runs something else (or its unit changed since it started),
    `args.handover` (a second instance on the same systemd socket) starts on the wanted release
    first, then the service restarts, then the handover stops. Nothing changes when the service
    already runs what is wanted. The followers (`args.follower`) restart after the unit runs the
    release, never before. With `args.settle_later` their restarts are queued and the converge
    returns at once, the queue in its result: `settle` checks them after the other instances
    converged (the admin service's handover runs while Celery stops warm)."""
    steps: list[str] = []
    units = [u for u in (args.socket, args.unit, args.handover, *args.follower) if u]
    if any(unit_show(u, "NeedDaemonReload").get("NeedDaemonReload") == "yes" for u in units):
        systemctl("daemon-reload")
        steps.append("reloaded systemd's units")
    want = wanted(Path(args.current), Path(args.env_file))
    if not want["release"]:
        raise Failure(f"{args.current} does not point to a release: nothing to run.")

    def done(changed: bool) -> dict:
        queued = queue_followers(args.follower, want)
        steps.extend(queued["steps"])
        if not args.settle_later:
            settle_followers(queued, want, args.follower_settle)
            queued["units"] = {}
        return {
            "changed": changed or bool(steps),
            "steps": steps,
            "running": want["release"],
            "queued": queued["units"],
        }

    if args.socket:
        if outdated(args.socket):
            # A new socket definition (its path or mode): the service goes down with it for a moment.
            systemctl("stop", args.unit, args.handover, args.socket)
            steps.append(f"restarted {args.socket}: its unit changed")
        if unit_show(args.socket, "ActiveState").get("ActiveState") != "active":
            start(args.socket)
            steps.append(f"started {args.socket}")
    have = running(args.unit)
    if matches(have, want) and not outdated(args.unit):
        if running(args.handover)["active"]:
            systemctl("stop", args.handover)
            steps.append(f"stopped {args.handover}, left by an earlier run")
        health(args)
        return done(False)
    systemctl("reset-failed", args.unit, args.handover)
    if have["active"]:
        other = running(args.handover)
        if not (matches(other, want) and not outdated(args.handover)):
            if other["active"]:
                systemctl("stop", args.handover)
            start(args.handover)
            wait_ready(args.handover, args.workers, args.timeout)
        steps.append(f"{args.handover} served {want['release']} while {args.unit} restarted")
        result = systemctl("restart", args.unit)
        steps.append(f"restarted {args.unit} (it ran {have['release'] or 'an older unit'})")
    else:
        result = systemctl("start", args.unit)
        steps.append(f"started {args.unit}")
    if result.returncode != 0:
        raise Failure(
            f"{args.unit} did not start; the last lines of its journal:\n{tail(journal(args.unit, 40))}"
        )
    wait_ready(args.unit, args.workers, args.timeout)
    now = running(args.unit)
    if not matches(now, want):
        raise Failure(f"{args.unit} runs {now} after the restart, not {want}.")
    if running(args.handover)["active"]:
        systemctl("stop", args.handover)
        steps.append(f"stopped {args.handover}")
    health(args)
    return done(True)


def queue_followers(units: list[str], want: dict) -> dict:
    """The units that run the release beside the web service (Celery's worker and beat, started
    by `run`): each one that runs something else than `want`, or was started before its unit
    changed, or is not running, gets its restart queued (stopping is its warm shutdown, within its
    TimeoutStopSec); settle_followers waits for them. What each unit was before the restart (its
    InvocationID, its automatic restarts) and its deadline are noted as it is queued (the deadline
    on the host's monotonic clock, the same in every process: `settle` may read it later)."""
    steps, queued = [], {}
    for unit in units:
        have = running(unit)
        if matches(have, want) and not outdated(unit):
            continue
        # reset-failed sets NRestarts back to 0: read it after, so any restart counts.
        systemctl("reset-failed", unit)
        props = unit_show(unit, "InvocationID", "NRestarts", "TimeoutStopUSec")
        queued[unit] = {
            "invocation": props.get("InvocationID", ""),
            "restarts": int(props.get("NRestarts") or 0),
            "deadline": time.monotonic() + seconds_of(props.get("TimeoutStopUSec", "")) + 60,
        }
        result = systemctl("restart", "--no-block", unit)
        if result.returncode != 0:
            raise Failure(f"{unit} did not restart: {tail(result.stderr)}")
        ran = have["release"] or "an older unit"
        steps.append(f"restarted {unit} (it ran {ran})" if have["active"] else f"started {unit}")
    return {"steps": steps, "units": queued}


def settle(args) -> dict:
    """The followers a `converge --settle-later` queued (`args.queued`, its result's `queued`,
    merged over instances) run what `current` and the env file say, and keep running it."""
    queued = {"units": json.loads(args.queued or "{}")}
    if queued["units"]:
        settle_followers(queued, wanted(Path(args.current), Path(args.env_file)), args.follower_settle)
    return {"changed": False, "settled": sorted(queued["units"])}


def seconds_of(span: str) -> float:
    """systemd's time span as `systemctl show` prints it ("5min 30s", "1h 2min", "infinity")."""
    units = {"w": 604800, "d": 86400, "h": 3600, "min": 60, "s": 1, "ms": 0.001, "us": 0.000001}
    if span.strip() in ("", "infinity"):
        return 3600.0
    total = 0.0
    for number, unit in re.findall(r"([0-9.]+)\s*(w|d|h|min|ms|us|s)", span):
        total += float(number) * units[unit]
    return total


def settle_followers(queued: dict, want: dict, settle: float) -> None:
    """Until each restarted follower (queue_followers' `units`) runs `want` in a new invocation and
    has lived `settle` seconds. A process that dies on its first import (a broken setting) is gone
    within that moment; a unit that systemd restarted on its own since it was queued
    (Restart=on-failure), or that failed, fails the converge at once. The stop before may take the
    unit's TimeoutStopSec (a warm shutdown lets running tasks finish)."""
    seen = set()
    pending = list(queued["units"])
    while pending:
        for unit in list(pending):
            before = queued["units"][unit]
            props = unit_show(unit, "ActiveState", "NRestarts", "InvocationID")
            now = running(unit)
            new = props.get("InvocationID", "") not in ("", before["invocation"])
            restarted = int(props.get("NRestarts") or 0) > before["restarts"]
            broken = restarted or props.get("ActiveState") == "failed"
            if broken or (unit in seen and not (new and matches(now, want))):
                raise Failure(
                    f"{unit} does not keep running {want['release']} after its restart; the last lines "
                    f"of its journal:\n{tail(journal(unit, 40))}"
                )
            if new and matches(now, want):
                seen.add(unit)
                if time.time() - started_at(unit) >= settle:
                    pending.remove(unit)
            elif time.monotonic() > before["deadline"]:
                raise Failure(
                    f"{unit} does not run {want['release']} in time after its restart; the last lines "
                    f"of its journal:\n{tail(journal(unit, 40))}"
                )
        if pending:
            time.sleep(0.3)


def health(args) -> None:
    """The service answers its health path through the socket clients use."""
    if args.health_socket:
        check(args.health_socket, args.health_host, [args.health_path], args.https, args.unit, 30, 1.0)


def start(unit: str) -> None:
    result = systemctl("start", unit)
    if result.returncode != 0:
        raise Failure(f"{unit} did not start; the last lines of its journal:\n{tail(journal(unit, 40))}")


def candidate(args) -> dict:
    """Start the release on its own socket, wait until its worker loaded the app, ask it every check
    path, and stop it (always, also when interrupted)."""
    unit = f"{args.app}-candidate@{args.release}.service"
    sock_unit = f"{args.app}-candidate@{args.release}.socket"
    systemctl("reset-failed", unit, sock_unit)
    try:
        start(unit)
        wait_ready(unit, 1, args.timeout)
        return check(args.socket, args.host, args.path, args.https, unit, args.retries, args.delay)
    finally:
        systemctl("stop", unit, sock_unit)
        systemctl("reset-failed", unit, sock_unit)


def cleanup(app: str, keep_units: list[str]) -> dict:
    """Stop the candidates a dead run left behind."""
    listed = systemctl("list-units", "--all", "--plain", "--no-legend", f"{app}-candidate@*").stdout
    stopped = []
    for line in listed.splitlines():
        name = line.split()[0] if line.split() else ""
        if name and name not in keep_units:
            systemctl("stop", name)
            systemctl("reset-failed", name)
            stopped.append(name)
    return {"changed": bool(stopped), "stopped": stopped}


# ---------------------------------------------------------------------------------------------
# serve: gunicorn's ExecStart


HOOKS = Path(__file__).with_name("gunicorn_hooks.py")


def enable_metrics(directory: Path, venv: Path) -> None:
    """The app's request metrics (the django role's onebox_metrics.py, multiprocess mode): a folder
    for this master (exec keeps the pid) that its workers write in, and the variables that turn the
    overlay's middleware on. A virtualenv built before onebox had metrics, or a folder that cannot
    be made, leaves them off: the app serves all the same."""
    if not (venv / "onebox-site" / "onebox_metrics.py").is_file():
        print(f"onebox: no request metrics ({venv} predates them)", file=sys.stderr, flush=True)
        return
    folder = directory / str(os.getpid())
    try:
        folder.mkdir(mode=0o750, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink()
    except OSError as error:
        print(f"onebox: no request metrics ({error})", file=sys.stderr, flush=True)
        return
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    os.environ["ONEBOX_METRICS"] = "1"


def serve(args) -> None:
    """Resolve `current` once and exec the release's gunicorn on it, with what the process
    started with in its own command line (for `running`) and each release's own static root."""
    release = Path(os.path.realpath(args.current))
    if not release.is_dir():
        raise Failure(f"{args.current} does not point to a release directory.")
    venv = Path(os.path.realpath(release / ".venv"))
    project = release / args.project_subdir if args.project_subdir else release
    # A release made before releases had their own static folder keeps the env file's STATIC_ROOT.
    if args.static_env and (release / ".static").is_dir():
        os.environ[args.static_env] = str(release / ".static")
    os.environ["ONEBOX_RELEASE"] = release.name
    if args.metrics_dir:
        enable_metrics(Path(args.metrics_dir), venv)
    # `-m gunicorn`: onebox's gunicorn, first on the virtualenv's sys.path (the django role's
    # onebox-site), whether the project pins another one or none.
    argv = [
        str(venv / "bin" / "python"),
        "-m",
        "gunicorn",
        args.wsgi,
        "--chdir",
        str(project),
        "--config",
        str(HOOKS),
        "--env",
        f"ONEBOX_RELEASE={release.name}",
        "--env",
        f"ONEBOX_ENV_DIGEST={env_digest(Path(args.env_file))}",
        *args.gunicorn,
    ]
    os.execv(argv[0], argv)  # noqa: S606 (the release's own python, no shell involved)


def read_env(path: Path) -> dict[str, str]:
    """NAME="value" lines with only \\ and \" escaped: the one form the django role writes, which
    systemd's EnvironmentFile= and python-dotenv read alike."""
    env = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line or line.startswith("#"):
            continue
        name, sep, quoted = line.partition("=")
        if not sep or len(quoted) < 2 or quoted[0] != '"' or quoted[-1] != '"':
            raise Failure(f'{path}:{number}: expected NAME="value"')
        env[name] = re.sub(r"\\(.)", r"\1", quoted[1:-1])
    return env


RUN_MARKS = "onebox-run.json"
RUN_DIR = Path("/run")


def run(args) -> None:
    """Resolve `current` once and exec the release's python on `args.python_args` (a Celery worker
    or beat, a management command) from the project's directory, with the release and the env
    file's digest in its own command line as interpreter options (`-X onebox_release=...`), which
    `running` reads back, as it reads gunicorn's."""
    release = Path(os.path.realpath(args.current))
    if not release.is_dir():
        raise Failure(f"{args.current} does not point to a release directory.")
    project = release / args.project_subdir if args.project_subdir else release
    if args.load_env:
        # A unit has the env file as its EnvironmentFile=; a check run from a task reads it here.
        os.environ.update(read_env(Path(args.env_file)))
        os.environ["DJANGO_ENV_FILE"] = args.env_file
        os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    if args.static_env and (release / ".static").is_dir():
        os.environ[args.static_env] = str(release / ".static")
    os.environ["ONEBOX_RELEASE"] = release.name
    os.chdir(project)
    venv = Path(os.path.realpath(release / ".venv"))
    python = str(venv / "bin" / "python")
    digest = env_digest(Path(args.env_file))
    argv = [python, "-X", f"onebox_release={release.name}", "-X", f"onebox_env={digest}", *args.python_args]
    # The same marks in the unit's RuntimeDirectory (exec keeps the pid), for `running`.
    runtime = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
    if runtime:
        marks = {"pid": os.getpid(), "release": release.name, "env": digest, "venv": str(venv)}
        (Path(runtime) / RUN_MARKS).write_text(json.dumps(marks))
    os.execv(python, argv)  # noqa: S606 (the release's own python, no shell involved)


# ---------------------------------------------------------------------------------------------
# command line


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="onebox-release", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    lock = sub.add_parser("lock")
    lock.add_argument("action", choices=["acquire", "release", "show"])
    lock.add_argument("--app", required=True)
    lock.add_argument("--run", default="")
    lock.add_argument("--holder", default="")
    lock.add_argument("--wait", type=float, default=0)
    lock.add_argument("--lease", type=float, default=900)

    hist = sub.add_parser("history")
    hist.add_argument("action", choices=["add", "show", "pairs", "table"])
    hist.add_argument("--file", required=True)
    hist.add_argument("--app-release", default="")
    hist.add_argument("--frontend-release", default="")
    hist.add_argument("--status", default="live", choices=["live", "failed"])
    hist.add_argument("--reason", default="")
    hist.add_argument("--by", default="")
    hist.add_argument("--run", default="")
    hist.add_argument("--app-current", default="", help="the app's current link (for a first entry)")
    hist.add_argument("--frontend-current", default="", help="the frontend's current link")
    hist.add_argument("--legacy-app-log", default="", help="releases.log of the django role before 2026-12")
    hist.add_argument("--legacy-frontend-log", default="", help="the frontend role's history before 2026-12")
    hist.add_argument(
        "--unless-live",
        action="store_true",
        help="add nothing when the last live pair already has these halves (a repair run's record)",
    )

    rb = sub.add_parser("plan-rollback")
    rb.add_argument("--history", required=True)
    rb.add_argument("--app-current", default="")
    rb.add_argument("--frontend-current", default="")
    rb.add_argument("--app-releases", default="")
    rb.add_argument("--frontend-releases", default="")
    rb.add_argument("--app", default="", help="go to this app release")
    rb.add_argument("--frontend", default="", help="go to this frontend release")

    kp = sub.add_parser("keep")
    kp.add_argument("--history", required=True)
    kp.add_argument("--count", type=int, required=True)
    kp.add_argument("--app-current", default="")
    kp.add_argument("--frontend-current", default="")

    pr = sub.add_parser("prune")
    pr.add_argument("--releases", required=True)
    pr.add_argument("--keep", action="append", default=[])
    pr.add_argument("--shared", action="append", default=[], help="SHARED_DIR:SUBDIR of each release")
    pr.add_argument("--venvs", default="", help="virtualenvs folder: remove those no kept release uses")

    pub = sub.add_parser("publish")
    pub.add_argument("--source", required=True)
    pub.add_argument("--target", required=True)

    ck = sub.add_parser("check")
    ck.add_argument("--socket", required=True)
    ck.add_argument("--host", required=True)
    ck.add_argument("--path", action="append", required=True)
    ck.add_argument("--https", action="store_true")
    ck.add_argument("--unit", default="")
    ck.add_argument("--retries", type=int, default=30)
    ck.add_argument("--delay", type=float, default=1.0)

    wr = sub.add_parser("wait-ready")
    wr.add_argument("--unit", required=True)
    wr.add_argument("--workers", type=int, required=True)
    wr.add_argument("--timeout", type=float, default=60)

    rn = sub.add_parser("running")
    rn.add_argument("--unit", required=True)

    cv = sub.add_parser("converge")
    cv.add_argument("--socket", default="")
    cv.add_argument("--unit", required=True)
    cv.add_argument("--handover", required=True)
    cv.add_argument("--current", required=True)
    cv.add_argument("--env-file", required=True)
    cv.add_argument("--workers", type=int, required=True)
    cv.add_argument("--timeout", type=float, default=90)
    cv.add_argument("--health-socket", default="")
    cv.add_argument("--health-host", default="localhost")
    cv.add_argument("--health-path", default="/")
    cv.add_argument("--https", action=argparse.BooleanOptionalAction, default=False)
    cv.add_argument("--follower", action="append", default=[], help="a unit started by `run` on the release")
    cv.add_argument("--follower-settle", type=float, default=3.0, help="seconds it must live")
    cv.add_argument("--settle-later", action="store_true", help="queue the followers' restarts only")

    st = sub.add_parser("settle")
    st.add_argument("--current", required=True)
    st.add_argument("--env-file", required=True)
    st.add_argument("--queued", default="{}", help="converge's `queued`, merged over its calls (JSON)")
    st.add_argument("--follower-settle", type=float, default=3.0, help="seconds it must live")

    cd = sub.add_parser("candidate")
    cd.add_argument("--app", required=True)
    cd.add_argument("--release", required=True)
    cd.add_argument("--socket", required=True)
    cd.add_argument("--host", required=True)
    cd.add_argument("--path", action="append", required=True)
    cd.add_argument("--https", action="store_true")
    cd.add_argument("--retries", type=int, default=30)
    cd.add_argument("--delay", type=float, default=1.0)
    cd.add_argument("--timeout", type=float, default=90)

    cl = sub.add_parser("cleanup")
    cl.add_argument("--app", required=True)

    sv = sub.add_parser("serve")
    sv.add_argument("--current", required=True)
    sv.add_argument("--env-file", required=True)
    sv.add_argument("--wsgi", required=True)
    sv.add_argument("--project-subdir", default="")
    sv.add_argument("--static-env", default="", help="environment variable that names STATIC_ROOT")
    sv.add_argument("--metrics-dir", default="", help="the app's request metrics: this master's folder in it")
    sv.add_argument("gunicorn", nargs=argparse.REMAINDER)

    rr = sub.add_parser("run")
    rr.add_argument("--current", required=True)
    rr.add_argument("--env-file", required=True)
    rr.add_argument("--project-subdir", default="")
    rr.add_argument("--static-env", default="", help="environment variable that names STATIC_ROOT")
    rr.add_argument("--load-env", action="store_true", help="read the env file into the environment first")
    rr.add_argument("python_args", nargs=argparse.REMAINDER, help="after --: the python's arguments")

    args = p.parse_args(argv)
    try:
        result = dispatch(args)
    except Failure as failure:
        print(str(failure), file=sys.stderr)
        return failure.status
    if result is not None:
        print(json.dumps(result, sort_keys=True))
    return 0


def dispatch(args) -> dict | None:
    if args.command == "lock":
        lock = Lock(args.app)
        if args.action == "acquire":
            if not args.run:
                raise Failure("lock acquire needs --run")
            return lock.acquire(args.run, args.holder or "unknown", args.wait, args.lease, session_anchor())
        if args.action == "release":
            return lock.release(args.run)
        return {"changed": False, "held": lock.holder()}
    if args.command == "history":
        history = History(Path(args.file))
        if args.action == "add":
            current = {
                "app": link_target(Path(args.app_current)) if args.app_current else "",
                "frontend": link_target(Path(args.frontend_current)) if args.frontend_current else "",
            }
            legacy = legacy_history(
                Path(args.legacy_app_log) if args.legacy_app_log else None,
                Path(args.legacy_frontend_log) if args.legacy_frontend_log else None,
                current,
            )
            halves = {"app": args.app_release, "frontend": args.frontend_release}
            if args.unless_live and history.last_live_has(**halves):
                return {"changed": False, "entry": None}
            entry = history.add(
                {
                    "app": args.app_release,
                    "frontend": args.frontend_release,
                    "status": args.status,
                    "reason": args.reason,
                    "by": args.by,
                    "run": args.run,
                },
                legacy,
            )
            return {"changed": True, "entry": entry}
        if args.action == "pairs":
            return {"changed": False, "pairs": history.live_pairs()}
        if args.action == "table":
            current = (
                link_target(Path(args.app_current)) if args.app_current else "",
                link_target(Path(args.frontend_current)) if args.frontend_current else "",
            )
            print(history_table(history.entries(), current))
            return None
        return {"changed": False, "entries": history.entries()}
    if args.command == "plan-rollback":
        current = {
            "app": link_target(Path(args.app_current)) if args.app_current else "",
            "frontend": link_target(Path(args.frontend_current)) if args.frontend_current else "",
        }
        present = {
            "app": servable(Path(args.app_releases)) if args.app_releases else None,
            "frontend": servable(Path(args.frontend_releases)) if args.frontend_releases else None,
        }
        return plan_rollback(History(Path(args.history)), current, present, args.app, args.frontend)
    if args.command == "keep":
        current = {"app": args.app_current, "frontend": args.frontend_current}
        return {"changed": False, **keep(History(Path(args.history)), args.count, current)}
    if args.command == "prune":
        shared = []
        for spec in args.shared:
            folder, _, subdir = spec.partition(":")
            shared.append((Path(folder), subdir))
        result = prune(Path(args.releases), args.keep, shared)
        if args.venvs:
            result["venvs_removed"] = prune_venvs(Path(args.venvs), Path(args.releases), args.keep)
            result["changed"] = result["changed"] or bool(result["venvs_removed"])
        return result
    if args.command == "publish":
        return publish(Path(args.source), Path(args.target))
    if args.command == "check":
        return check(args.socket, args.host, args.path, args.https, args.unit, args.retries, args.delay)
    if args.command == "wait-ready":
        return wait_ready(args.unit, args.workers, args.timeout)
    if args.command == "running":
        return running(args.unit)
    if args.command == "converge":
        return converge(args)
    if args.command == "settle":
        return settle(args)
    if args.command == "candidate":
        return candidate(args)
    if args.command == "cleanup":
        return cleanup(args.app, [])
    if args.command == "serve":
        gunicorn = args.gunicorn[1:] if args.gunicorn[:1] == ["--"] else args.gunicorn
        args.gunicorn = gunicorn
        serve(args)
    if args.command == "run":
        args.python_args = args.python_args[1:] if args.python_args[:1] == ["--"] else args.python_args
        if not args.python_args:
            raise Failure("run needs the python's arguments after --")
        run(args)
    return None


if __name__ == "__main__":
    raise SystemExit(main())
