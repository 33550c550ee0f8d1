"""A VPS reached as a sudo user who needs a password: the project's ansible.cfg (Mitogen's strategy)
becomes root with it over SSH, and a wrong password fails instead of hanging."""

from conftest import ROOT, run_play

WHOAMI = (
    "- hosts: all\n  gather_facts: false\n  become: true\n  tasks:\n"
    "    - ansible.builtin.command: id -u\n      register: id\n      changed_when: false\n"
    "    - ansible.builtin.debug:\n        msg: 'uid={{ id.stdout }}'\n"
)


def test_the_project_config_uses_mitogen():
    config = (ROOT / "ansible.cfg").read_text()
    assert "strategy = mitogen_linear" in config


def test_become_with_a_sudo_password_over_ssh(operator, tmp_path):
    result = run_play(tmp_path, operator, WHOAMI)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "uid=0" in result.stdout


def test_a_wrong_sudo_password_fails_and_says_so(operator, tmp_path):
    result = run_play(tmp_path, operator, WHOAMI, password=operator["password"] + "-wrong")
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "uid=0" not in out
    assert "password" in out.lower(), out[-3000:]
