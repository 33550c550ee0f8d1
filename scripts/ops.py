#!/usr/bin/env python3
"""SSH to a host of an inventory the way Ansible reaches it (its address, port, user, key and SSH
options, as the inventory resolves them), for what a person watches rather than changes:

    scripts/ops.py ui ENV [--host H]           a tunnel to Prometheus and Alertmanager on the host's
                                               loopback; prints the local URLs (make ops-ui)
    scripts/ops.py logs ENV [--unit U] [--host H]
                                               follow a unit's journal, the app's by default (make logs)
    ... --print                                print the ssh command instead of running it

Nothing is published on the host: the tunnel ends when you press Ctrl-C.
"""

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Local port -> the host's loopback port.
TUNNELS = {"Prometheus": (19090, 9090), "Alertmanager": (19093, 9093)}
RESOLVE = (
    "{{ {'address': ansible_host | default(inventory_hostname), 'port': ansible_port | default(22) | string,"
    " 'user': ansible_user | default(''), 'key': ansible_ssh_private_key_file | default(''),"
    " 'args': ansible_ssh_common_args | default(''), 'app': onebox_app_name | default('')} | to_json }}"
)


def connection(env: str, host: str) -> dict:
    """The host's SSH settings, templated by Ansible itself (an inventory may compute them)."""
    inventory = ROOT / "inventory" / env
    if not inventory.is_dir():
        raise SystemExit(f"ops: no inventory {inventory} (ENV={env}); make init writes one.")
    argv = [
        "ansible",
        "-i",
        str(inventory),
        host,
        "-m",
        "ansible.builtin.debug",
        "-a",
        f"msg={RESOLVE}",
        "-o",
    ]
    vault = inventory / ".vault_pass"
    if vault.exists():
        argv += ["--vault-password-file", str(vault)]
    result = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=ROOT)
    lines = [line for line in result.stdout.splitlines() if "=>" in line]
    if result.returncode != 0 or not lines:
        raise SystemExit(f"ops: cannot resolve {host} in {inventory}:\n{result.stdout}{result.stderr}")
    name, _, data = lines[0].partition("=>")
    settings = json.loads(json.loads(data)["msg"])
    settings["name"] = name.split("|")[0].strip()
    return settings


def ssh(settings: dict, *extra: str) -> list[str]:
    argv = ["ssh", "-p", settings["port"]]
    if settings["key"]:
        argv += ["-i", settings["key"]]
    argv += shlex.split(settings["args"])
    target = f"{settings['user']}@{settings['address']}" if settings["user"] else settings["address"]
    return [*argv, *extra, target]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["ui", "logs"])
    parser.add_argument("env")
    parser.add_argument(
        "--host", default="onebox[0]", help="a host or pattern of the inventory (its first host)"
    )
    parser.add_argument("--unit", default="", help="logs: the unit to follow (default: the app's service)")
    parser.add_argument("--print", action="store_true", help="print the ssh command instead of running it")
    args = parser.parse_args(argv)

    settings = connection(args.env, args.host)
    if args.what == "ui":
        forwards = [f"-L127.0.0.1:{local}:127.0.0.1:{remote}" for local, remote in TUNNELS.values()]
        command = ssh(settings, "-N", "-o", "ExitOnForwardFailure=yes", *forwards)
        message = [f"{name}: http://127.0.0.1:{local}/" for name, (local, _) in TUNNELS.items()]
        message.append(f"(a tunnel to {settings['name']}; Ctrl-C closes it)")
    else:
        unit = args.unit or f"{settings['app']}.service"
        command = [*ssh(settings, "-t"), "sudo", "journalctl", "--follow", "--lines=100", f"--unit={unit}"]
        message = [f"{unit} on {settings['name']} (Ctrl-C stops)"]
    if args.print:
        print(shlex.join(command))
        return 0
    print("\n".join(message), file=sys.stderr, flush=True)
    os.execvp(command[0], command)  # noqa: S606
    return 0


if __name__ == "__main__":
    sys.exit(main())
