"""The common scenario's host reached as an operator reaches a VPS: over SSH, with a key, as a sudo
user who needs a password, through the host's firewall."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "molecule" / "shared"))

from scenario import address as docker_address  # noqa: E402

USER = "vpsadmin"


@pytest.fixture(scope="module")
def operator(host, tmp_path_factory):
    """A user with an SSH key and a password for sudo (ALL, not NOPASSWD), as many VPSs come."""
    keys = tmp_path_factory.mktemp("ssh")
    key = keys / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    password = secrets.token_urlsafe(16)
    public = (keys / "id_ed25519.pub").read_text().strip()
    with host.sudo():
        host.check_output("id %s || useradd --create-home --shell /bin/bash %s", USER, USER)
        host.check_output("echo %s | chpasswd", f"{USER}:{password}")
        host.check_output("install -d -m 0700 -o %s -g %s /home/%s/.ssh", USER, USER, USER)
        host.check_output("echo %s > /home/%s/.ssh/authorized_keys", public, USER)
        host.check_output("chown %s: /home/%s/.ssh/authorized_keys", USER, USER)
        sudoers = "/etc/sudoers.d/91-vpsadmin"
        host.check_output(
            "echo %s > %s && chmod 0440 %s && visudo -cq", f"{USER} ALL=(ALL) ALL", sudoers, sudoers
        )
    address = docker_address(host)
    # As an operator does before the first run: the host's key is known. (Mitogen enforces host key
    # checking and puts `StrictHostKeyChecking yes` before the inventory's own ssh arguments.)
    scan = subprocess.run(["ssh-keyscan", "-T", "10", address], capture_output=True, text=True, check=False)
    assert scan.stdout.strip(), scan.stderr
    (keys / "known_hosts").write_text(scan.stdout)
    return {
        "user": USER,
        "address": address,
        "key": key,
        "password": password,
        "known_hosts": keys / "known_hosts",
    }


def ssh_command(operator, *command):
    """ssh as the operator, with their key, as an operator's terminal would."""
    return [
        "ssh",
        "-i",
        str(operator["key"]),
        "-o",
        f"UserKnownHostsFile={operator['known_hosts']}",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=10",
        f"{operator['user']}@{operator['address']}",
        *command,
    ]


def run_play(tmp_path, operator, play, *extra, password=None, user=None, key=True, timeout=300):
    """ansible-playbook over SSH with the project's ansible.cfg (Mitogen), as the operator: `play` is
    the playbook's text; sudo takes the operator's password unless another is given."""
    (tmp_path / "play.yml").write_text(play)
    host_vars = [
        f"      ansible_host: {operator['address']}",
        f"      ansible_user: {user or operator['user']}",
        f"      ansible_ssh_common_args: -o UserKnownHostsFile={operator['known_hosts']}",
    ]
    if key:
        host_vars.append(f"      ansible_ssh_private_key_file: {operator['key']}")
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    vps:\n" + "\n".join(host_vars) + "\n")
    # Facts in memory: the project's fact cache is keyed by host name, and "vps" is every distro's here.
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_CACHE_PLUGIN": "memory",
    }
    env.pop("ANSIBLE_STRATEGY", None)
    become = operator["password"] if password is None else password
    argv = ["ansible-playbook", "-i", str(tmp_path / "hosts.yml"), str(tmp_path / "play.yml")]
    argv += ["-e", f"ansible_become_password={become}", *extra]
    return subprocess.run(
        argv, capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout, check=False
    )
