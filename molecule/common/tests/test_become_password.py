"""A VPS reached as a sudo user who needs a password: the project's ansible.cfg (Mitogen's strategy)
becomes root with it over SSH, and a wrong password fails instead of hanging."""

import os
import secrets
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
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
    address = host.check_output("hostname -I").split()[0]
    # As an operator does before the first run: the host's key is known. (Mitogen enforces host key
    # checking and puts `StrictHostKeyChecking yes` before the inventory's own ssh arguments.)
    scan = subprocess.run(["ssh-keyscan", "-T", "10", address], capture_output=True, text=True, check=False)
    assert scan.stdout.strip(), scan.stderr
    (keys / "known_hosts").write_text(scan.stdout)
    return {"address": address, "key": key, "password": password, "known_hosts": keys / "known_hosts"}


def run_play(tmp_path, operator, password):
    play = tmp_path / "whoami.yml"
    play.write_text(
        "- hosts: all\n  gather_facts: false\n  become: true\n  tasks:\n"
        "    - ansible.builtin.command: id -u\n      register: id\n      changed_when: false\n"
        "    - ansible.builtin.debug:\n        msg: 'uid={{ id.stdout }}'\n"
    )
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        f"all:\n  hosts:\n    vps:\n      ansible_host: {operator['address']}\n      ansible_user: {USER}\n"
        f"      ansible_ssh_private_key_file: {operator['key']}\n"
        f"      ansible_ssh_common_args: -o UserKnownHostsFile={operator['known_hosts']}"
        " -o StrictHostKeyChecking=accept-new\n"
    )
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0"}
    env.pop("ANSIBLE_STRATEGY", None)
    return subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(play), "-e", f"ansible_become_password={password}"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def test_the_project_config_uses_mitogen():
    config = (ROOT / "ansible.cfg").read_text()
    assert "strategy = mitogen_linear" in config


def test_become_with_a_sudo_password_over_ssh(operator, tmp_path):
    result = run_play(tmp_path, operator, operator["password"])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "uid=0" in result.stdout


def test_a_wrong_sudo_password_fails_and_says_so(operator, tmp_path):
    result = run_play(tmp_path, operator, operator["password"] + "-wrong")
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "uid=0" not in out
    assert "password" in out.lower(), out[-3000:]
