#!/usr/bin/env python3
"""make bench: how fast onebox is, on local VPSs of this machine, as figures with goals.

Every figure that depends on how busy this shared machine is comes as a ratio to a floor measured
in the same run (the same work done the plainest way, or the same requests sent straight to the
app), and where both sides of a ratio can be repeated they are alternated. One run prints one table
and writes it as JSON to .cache/bench/<UTC time>.json (and .cache/bench/latest.json).

    bench/run.py [--distro debian12] [--rounds 3] [--seconds 8] [--keep]

Two fresh local VPSs (scripts/local-host.sh, reached over SSH like any VPS) of the same image:
  site   site.yml as `make up` runs it (Pebble first), then a no-change site.yml, code-only and
         dependency deploys, HTTPS serving, a deploy under a fixed-rate load;
  plain  the floor: the packages site.yml installed on `site`, in one apt-get call, and the app's
         virtualenv from the same lock file; then site.yml with onebox_tls=false for HTTP serving.
Loopback and these containers only; every load is bounded in time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / ".cache" / "bench"
STATE = OUT / "state"
APP = "portfolio"
DOMAIN = "onebox.test"
API = "/api/portfolios/"
SOCKET = f"/run/{APP}/gunicorn.sock"
HOSTS = {
    # name: (container, ssh, http, https)
    "site": ("onebox-bench-site", 2231, 8131, 8531),
    "plain": ("onebox-bench-plain", 2232, 8132, 8532),
}
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def sh(*argv: str, check: bool = True, capture: bool = True, env=None, timeout=1800, stdin=None):
    result = subprocess.run(
        list(argv),
        capture_output=capture,
        text=True,
        check=False,
        env=env,
        timeout=timeout,
        input=stdin,
        cwd=ROOT,
    )
    if check and result.returncode != 0:
        out = (result.stdout or "")[-3000:] + (result.stderr or "")[-3000:]
        raise SystemExit(f"bench: {' '.join(argv[:4])} ... failed ({result.returncode}):\n{out}")
    return result


class Host:
    def __init__(self, key: str, distro: str):
        self.key = key
        self.container, self.ssh_port, self.http_port, self.https_port = HOSTS[key]
        self.distro = distro
        self.inventory_name = f"bench-{key}"

    def env(self) -> dict:
        return {
            **os.environ,
            "ONEBOX_HOST_NAME": self.container,
            "ONEBOX_HOST_DISTRO": self.distro,
            "ONEBOX_SSH_PORT": str(self.ssh_port),
            "ONEBOX_HTTP_PORT": str(self.http_port),
            "ONEBOX_HTTPS_PORT": str(self.https_port),
            "ONEBOX_KEY_DIR": str(STATE / "ssh"),
        }

    def up(self) -> None:
        sh("scripts/local-host.sh", "up", env=self.env())

    def down(self) -> None:
        sh("docker", "rm", "-f", self.container, check=False)

    def run(self, script: str, check: bool = True, timeout: int = 1800) -> subprocess.CompletedProcess:
        return sh(
            "docker",
            "exec",
            "-i",
            self.container,
            "bash",
            "-euo",
            "pipefail",
            "-s",
            stdin=script,
            check=check,
            timeout=timeout,
        )

    def put(self, local: Path, remote: str) -> None:
        sh("docker", "cp", str(local), f"{self.container}:{remote}")


def write_inventory(hosts: list[Host]) -> Path:
    inventory = STATE / "inventory"
    if inventory.exists():
        shutil.rmtree(inventory)
    (inventory / "host_vars").mkdir(parents=True)
    (inventory / "group_vars").symlink_to(ROOT / "inventory" / "local" / "group_vars")
    lines = ["---", "onebox:", "  hosts:"]
    for host in hosts:
        lines += [
            f"    {host.inventory_name}:",
            "      ansible_host: 127.0.0.1",
            f"      ansible_port: {host.ssh_port}",
            "      ansible_user: deploy",
            f"      ansible_ssh_private_key_file: {STATE / 'ssh' / 'id_ed25519'}",
            f"      ansible_ssh_common_args: -o UserKnownHostsFile={STATE / 'ssh' / 'known_hosts'}"
            " -o StrictHostKeyChecking=accept-new",
        ]
    (inventory / "hosts.yml").write_text("\n".join(lines) + "\n")
    # The plain host serves HTTP only, as a staging inventory does.
    (inventory / "host_vars" / "bench-plain.yml").write_text(
        '---\nonebox_tls: false\nmonitoring_probe_ca_file: ""\n'
    )
    return inventory


def playbook(inventory: Path, name: str, limit: str, *extra: str, label: str = "") -> dict:
    """ansible-playbook as `make` runs it; its output (with per-task times) goes to .cache/bench/logs/."""
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ONEBOX_SECRETS_DIR": str(STATE / "secrets"),
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks",
        "PROFILE_TASKS_TASK_OUTPUT_LIMIT": "all",
    }
    start = time.monotonic()
    result = sh(
        ".venv/bin/ansible-playbook",
        "-i",
        str(inventory),
        str(ROOT / name),
        "--limit",
        limit,
        *extra,
        env=env,
        check=False,
    )
    seconds = time.monotonic() - start
    logs = OUT / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    (logs / f"{label or Path(name).stem}-{limit}.log").write_text(result.stdout + result.stderr)
    recap = {
        m.group(1): {"ok": int(m.group(2)), "changed": int(m.group(3)), "failed": int(m.group(5))}
        for m in RECAP.finditer(result.stdout)
    }
    if result.returncode != 0:
        raise SystemExit(
            f"bench: {name} on {limit} failed:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
        )
    return {"seconds": round(seconds, 1), **recap.get(limit, {})}


def app_copy(tag: str, lock_comment: bool = False) -> Path:
    """A copy of app/ with one more line (a comment) in one module, or in the lock file too."""
    base = Path(tempfile.mkdtemp(prefix=f"onebox-bench-{tag}-"))
    copy = base / "app"
    shutil.copytree(
        ROOT / "app",
        copy,
        ignore=shutil.ignore_patterns(".env", "db.sqlite3", "var", "__pycache__", ".pytest_cache"),
    )
    with (copy / "config" / "urls.py").open("a") as f:
        f.write(f"# bench: a one-line change ({tag})\n")
    if lock_comment:
        with (copy / "requirements.lock").open("a") as f:
            f.write(f"# bench: a new lock file ({tag})\n")
    return copy


def httpbench(host: Host, target: str, path: str, seconds: float, extra: list[str] | None = None) -> dict:
    argv = [
        "python3",
        "/root/httpbench.py",
        "--target",
        target,
        "--host",
        DOMAIN,
        "--path",
        path,
        "--seconds",
        str(seconds),
        "--connections",
        "8",
        *(extra or []),
    ]
    result = sh("docker", "exec", host.container, *argv, timeout=int(seconds) + 120)
    return json.loads(result.stdout)


def alternate(host: Host, sides: dict[str, tuple[str, str, list[str]]], rounds: int, seconds: float) -> dict:
    """Each side `rounds` times, in turn (a b a b ...); the median requests/s of each."""
    runs: dict[str, list[dict]] = {name: [] for name in sides}
    for _ in range(rounds):
        for name, (target, path, extra) in sides.items():
            runs[name].append(httpbench(host, target, path, seconds, extra))
    summary = {}
    for name, results in runs.items():
        bad = sum(r["non_2xx"] + sum(r["errors"].values()) for r in results)
        if bad:
            raise SystemExit(f"bench: {name} had {bad} failed requests: {json.dumps(results)}")
        summary[name] = {
            "rps": statistics.median(r["rps"] for r in results),
            "p99_ms": statistics.median(r["p99_ms"] for r in results),
            "client_cpu_share": round(
                statistics.median(r["client_cpu_s"] / r["seconds"] for r in results), 2
            ),
            "runs": [r["rps"] for r in results],
        }
    return summary


def load_window(host: Host, seconds: float | None, action=None, rate: int = 40) -> dict:
    """A fixed-rate HTTPS load from this machine during `action` (or for `seconds`)."""
    stop = STATE / "load.stop"
    stop.unlink(missing_ok=True)
    command = [
        sys.executable,
        str(ROOT / "bench" / "loadprobe.py"),
        "--url",
        f"https://{DOMAIN}:{host.https_port}{API}",
        "--url",
        f"https://{DOMAIN}:{host.https_port}/health/",
        "--resolve",
        f"{DOMAIN}:127.0.0.1",
        "--cafile",
        str(STATE / "pebble-root.pem"),
        "--concurrency",
        "4",
        "--rate",
        str(rate),
        "--timeout",
        "60",
        "--stop-file",
        str(stop),
        "--max-seconds",
        "300",
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(2)
        info = action() if action else time.sleep(seconds) or {}
        time.sleep(1)
    finally:
        stop.touch()
        out, err = proc.communicate(timeout=120)
    result = json.loads(out) if out.strip() else {"error": err}
    return {**result, "action": info}


def measure(args, figures: dict) -> dict:
    """Fills `figures` as it goes, so a run that stops half-way still reports what it measured."""
    distro = args.distro
    site, plain = Host("site", distro), Host("plain", distro)
    figures.update({"distro": distro, "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")})
    for host in (site, plain):
        host.down()
    if STATE.exists():
        shutil.rmtree(STATE)
    STATE.mkdir(parents=True)
    sh("molecule/images/build.sh", distro)
    log("starting two fresh local VPSs")
    for host in (site, plain):
        host.up()
    inventory = write_inventory([site, plain])

    log("site: Pebble (test scaffolding, not timed)")
    playbook(inventory, "molecule/shared/pebble.yml", site.inventory_name)
    before = set(site.run("apt-mark showmanual").stdout.split())

    log("site: first site.yml")
    figures["first_converge"] = playbook(inventory, "site.yml", site.inventory_name, label="first")
    after = set(site.run("apt-mark showmanual").stdout.split())
    packages = sorted(after - before)
    figures["packages"] = packages

    log(f"plain: the floor ({len(packages)} packages in one apt-get call, then the virtualenv)")
    plain.put(ROOT / "app" / "requirements.lock", "/root/requirements.lock")
    plain.run("apt-get update -qq")
    floor = plain.run(
        f"""
        start=$(date +%s.%N)
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {" ".join(packages)} >/dev/null
        apt=$(date +%s.%N)
        python3 -m venv /root/floor-venv
        /root/floor-venv/bin/python -m pip install -q --no-input --disable-pip-version-check \\
            --require-hashes --requirement /root/requirements.lock
        end=$(date +%s.%N)
        echo "$start $apt $end"
        """
    ).stdout.split()
    start, apt, end = (float(x) for x in floor[-3:])
    figures["floor"] = {
        "seconds": round(end - start, 1),
        "apt_s": round(apt - start, 1),
        "venv_s": round(end - apt, 1),
    }

    log("site: site.yml again, nothing to change")
    figures["no_change"] = playbook(inventory, "site.yml", site.inventory_name, label="no-change")

    log("site: a code-only deploy")
    figures["code_deploy"] = playbook(
        inventory,
        "playbooks/deploy.yml",
        site.inventory_name,
        "-e",
        f"django_source_dir={app_copy('code')}",
        label="code-deploy",
    )
    log("site: a deploy with a new lock file")
    figures["dependency_deploy"] = playbook(
        inventory,
        "playbooks/deploy.yml",
        site.inventory_name,
        "-e",
        f"django_source_dir={app_copy('deps', lock_comment=True)}",
        label="dependency-deploy",
    )

    for host in (site, plain):
        host.put(ROOT / "bench" / "httpbench.py", "/root/httpbench.py")
    site.run("install -m 0644 /etc/pebble/issuer-root.pem /root/pebble-root.pem")
    sh("docker", "cp", f"{site.container}:/etc/pebble/issuer-root.pem", str(STATE / "pebble-root.pem"))
    # The smallest hashed asset: the figure is about serving a file, not about moving bytes.
    asset = site.run(f"cd /srv/{APP}/frontend/current && ls -S assets/* | tail -n 1").stdout.strip()
    https = ["--cafile", "/root/pebble-root.pem"]
    proto = ["--header", "X-Forwarded-Proto: https"]

    log("site: serving over HTTPS vs straight to gunicorn's socket")
    figures["serving_https"] = alternate(
        site,
        {
            "direct": (f"unix:{SOCKET}", API, proto),
            "https": ("tls:127.0.0.1:443", API, https),
        },
        args.rounds,
        args.seconds,
    )
    figures["serving_static"] = alternate(
        site,
        {
            "app": ("tls:127.0.0.1:443", API, https),
            "static": ("tls:127.0.0.1:443", f"/{asset}", https),
        },
        args.rounds,
        args.seconds,
    )

    log("site: a deploy under a fixed-rate load, and the same load without one")
    calm = load_window(site, seconds=20)
    copy = app_copy("load")
    busy = load_window(
        site,
        None,
        action=lambda: playbook(
            inventory,
            "playbooks/deploy.yml",
            site.inventory_name,
            "-e",
            f"django_source_dir={copy}",
            label="deploy-under-load",
        ),
    )
    figures["deploy_load"] = {"calm": calm, "deploy": busy}

    log("plain: site.yml with onebox_tls=false, then serving over HTTP vs straight to the socket")
    figures["plain_converge"] = playbook(inventory, "site.yml", plain.inventory_name, label="plain")
    figures["serving_http"] = alternate(
        plain,
        {
            "direct": (f"unix:{SOCKET}", API, []),
            "http": ("tcp:127.0.0.1:80", API, []),
        },
        args.rounds,
        args.seconds,
    )

    figures["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return figures


def ratio(a, b):
    return round(a / b, 2) if a is not None and b else None


def goals(f: dict) -> list[dict]:
    rows = []

    def row(name, needs, compute):
        """compute() -> (value, unit, goal, met, note); a figure whose measurement is missing says so."""
        if any(key not in f for key in needs):
            rows.append(
                {"figure": name, "value": None, "unit": "", "goal": "", "met": False, "note": "not measured"}
            )
            return
        value, unit, goal, met, note = compute()
        rows.append(
            {"figure": name, "value": value, "unit": unit, "goal": goal, "met": bool(met), "note": note}
        )

    def first():
        a, b = f["first_converge"]["seconds"], f["floor"]["seconds"]
        note = f"site.yml {a} s vs apt-get + venv {b} s ({f['floor']['apt_s']} + {f['floor']['venv_s']})"
        return ratio(a, b), "x", "<= 1.5", ratio(a, b) <= 1.5, note

    def no_change():
        nc = f["no_change"]
        note = (
            f"changed={nc.get('changed')}, {nc.get('ok')} tasks ok, "
            f"{ratio(nc['seconds'], f['first_converge']['seconds'])}x the first converge"
        )
        return nc["seconds"], "s", "<= 20, changed=0", nc["seconds"] <= 20 and nc.get("changed") == 0, note

    def code():
        cd = f["code_deploy"]
        return cd["seconds"], "s", "<= 15", cd["seconds"] <= 15, f"changed={cd.get('changed')}"

    def deps():
        dd = f["dependency_deploy"]
        return dd["seconds"], "s", "(reported)", True, f"changed={dd.get('changed')}"

    def http():
        p = f["serving_http"]
        r = ratio(p["http"]["rps"], p["direct"]["rps"])
        runs = len(p["http"]["runs"])
        note = f"{p['http']['rps']} vs {p['direct']['rps']} req/s (median of {runs}, alternated)"
        return r, "x", ">= 0.95", r >= 0.95, note

    def https():
        h = f["serving_https"]
        r = ratio(h["https"]["rps"], h["direct"]["rps"])
        return r, "x", ">= 0.85", r >= 0.85, f"{h['https']['rps']} vs {h['direct']['rps']} req/s, keep-alive"

    def static():
        s = f["serving_static"]
        r = ratio(s["static"]["rps"], s["app"]["rps"])
        note = (
            f"{s['static']['rps']} vs {s['app']['rps']} req/s over HTTPS; "
            f"client CPU {s['static']['client_cpu_share']}"
        )
        return r, "x", ">= 10", r >= 10, note

    def failed():
        busy = f["deploy_load"]["deploy"]
        return (
            busy.get("failed"),
            "",
            "0",
            busy.get("failed") == 0,
            f"{busy.get('requests')} requests at a fixed rate",
        )

    def p99():
        calm, busy = f["deploy_load"]["calm"], f["deploy_load"]["deploy"]
        r = ratio(busy.get("p99_ms"), calm.get("p99_ms"))
        return r, "x", "<= 2", (r or 99) <= 2, f"p99 {busy.get('p99_ms')} vs {calm.get('p99_ms')} ms"

    def slowest():
        calm, busy = f["deploy_load"]["calm"], f["deploy_load"]["deploy"]
        value = busy.get("max_ms")
        return value, "ms", "<= 1000", (value or 1e9) <= 1000, f"without a deploy: {calm.get('max_ms')} ms"

    row("first converge / package floor", ["first_converge", "floor"], first)
    row("no-change site.yml", ["no_change", "first_converge"], no_change)
    row("code-only deploy", ["code_deploy"], code)
    row("deploy with a new lock file", ["dependency_deploy"], deps)
    row("HTTP through nginx / direct", ["serving_http"], http)
    row("HTTPS through nginx / direct", ["serving_https"], https)
    row("hashed static asset / app", ["serving_static"], static)
    row("failed requests during a deploy", ["deploy_load"], failed)
    row("p99 during a deploy / without", ["deploy_load"], p99)
    row("slowest request during a deploy", ["deploy_load"], slowest)
    return rows


def table(rows: list[dict]) -> str:
    lines = [f"{'figure':<36}{'value':>10} {'unit':<4} {'goal':<18}{'met':<5}note"]
    for r in rows:
        value = "-" if r["value"] is None else r["value"]
        lines.append(
            f"{r['figure']:<36}{value:>10} {r['unit']:<4} {r['goal']:<18}"
            f"{'yes' if r['met'] else 'NO':<5}{r['note']}"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--distro", default=os.environ.get("BENCH_DISTRO", "debian12"))
    p.add_argument("--rounds", type=int, default=3, help="alternated rounds per serving comparison")
    p.add_argument("--seconds", type=float, default=8.0, help="seconds per serving round")
    p.add_argument("--keep", action="store_true", help="leave the two VPSs running")
    p.add_argument("--report", type=Path, help="print the table of an earlier JSON file, measure nothing")
    args = p.parse_args(argv)
    error = ""
    if args.report:
        figures = json.loads(args.report.read_text())["figures"]
    else:
        figures = {}
        try:
            measure(args, figures)
        except (SystemExit, Exception) as failure:  # report what was measured, then the failure
            error = str(failure)
            figures["error"] = error
        finally:
            if not args.keep:
                for key in HOSTS:
                    Host(key, args.distro).down()
    rows = goals(figures)
    print(table(rows))
    if not args.report:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        doc = json.dumps({"figures": figures, "goals": rows}, indent=1)
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / f"{stamp}.json").write_text(doc + "\n")
        (OUT / "latest.json").write_text(doc + "\n")
        print(f"\nwritten to .cache/bench/{stamp}.json")
    if error:
        print(f"\nbench: stopped early: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
