"""sshd (roles/sshd): keys only, checked from the outside, and a role that will not lock out an
operator who logs in with a password."""

import secrets
import subprocess

import outside
from conftest import run_play, ssh_command
from scenario import words

SSHD = "- hosts: all\n  become: true\n  roles:\n    - role: sshd\n"
DROP_IN = "/etc/ssh/sshd_config.d/00-onebox.conf"
SUDOERS = "/etc/sudoers.d/92-pwonly"


def test_sshd_takes_keys_only(host):
    with host.sudo():
        effective = host.check_output("sshd -T -C user=nobody,host=x,addr=192.0.2.2").splitlines()
    for setting in (
        "passwordauthentication no",
        "kbdinteractiveauthentication no",
        "permitrootlogin no",
        "authenticationmethods publickey",
        "permitemptypasswords no",
    ):
        assert setting in effective, setting


def test_a_password_is_not_even_offered(host):
    for address in (outside.HOST4, outside.HOST6):
        # The methods the server would go on with: one that took passwords would list them.
        refusal = outside.ssh_refusal(host, address, "vpsadmin")
        assert "Permission denied (publickey)." in refusal, refusal


def test_a_key_gets_in(operator):
    result = subprocess.run(
        ssh_command(operator, "echo in"), capture_output=True, text=True, timeout=60, check=False
    )
    assert result.stdout.strip() == "in", result.stderr


def test_an_operator_who_logs_in_with_a_password_is_not_locked_out(host, operator, tmp_path):
    """A VPS as it came: sshd takes passwords, and the operator has a password but no key. The role
    stops before any change and says what to do."""
    password = secrets.token_urlsafe(16)
    with host.sudo():
        host.check_output("mv %s /root/00-onebox.conf.kept && systemctl reload ssh", DROP_IN)
        host.check_output("id pwonly || useradd --create-home --shell /bin/bash pwonly")
        host.check_output("echo %s | chpasswd", f"pwonly:{password}")
        host.check_output(
            "echo 'pwonly ALL=(ALL) ALL' > /etc/sudoers.d/92-pwonly && chmod 0440 /etc/sudoers.d/92-pwonly"
        )
    try:
        result = run_play(
            tmp_path,
            operator,
            SSHD,
            "-e",
            f"ansible_password={password}",
            password=password,
            user="pwonly",
            key=False,
        )
        out = words(result)
        assert result.returncode != 0, out[-3000:]
        assert "The controller logs in as pwonly, who has no key" in out, out[-3000:]
        assert "changed=0" in out, out[-3000:]
        with host.sudo():
            assert not host.file(DROP_IN).exists
    finally:
        with host.sudo():
            host.check_output("mv /root/00-onebox.conf.kept %s && systemctl reload ssh", DROP_IN)
            host.run("rm -f %s; userdel -r pwonly", SUDOERS)
