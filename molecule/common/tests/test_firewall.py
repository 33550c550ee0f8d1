"""The firewall (roles/firewall) as strangers and the operator meet it: traffic from a network
namespace joined to the host (molecule/shared/outside.py) over IPv4 and IPv6, and the operator's
own SSH sessions while the rules change, including rules that would shut the operator out."""

import json
import re
import subprocess

import outside
from conftest import run_play, ssh_command
from scenario import words

FIREWALL = "- hosts: all\n  become: true\n  roles:\n    - role: firewall\n"
# Listeners on the web ports (no web server in this scenario) and on ports nobody opened.
OPEN = (80, 443)
CLOSED = (25, 5432, 8099)


def rules(host):
    """The rules in force, without the addresses the SSH rate limit has seen so far."""
    with host.sudo():
        text = host.check_output("nft --stateless list table inet onebox")
    return re.sub(r"\s*elements = \{[^}]*\}", "", text)


def test_only_ssh_and_the_web_ports_answer_strangers(host):
    with outside.listeners(host, OPEN + CLOSED):
        found = outside.probe(host, (22, *OPEN, *CLOSED))
    for address in (outside.HOST4, outside.HOST6):
        for port in (22, *OPEN):
            assert found[(address, port)] == "open", (address, port, found)
        for port in CLOSED:
            assert found[(address, port)] == "timeout", (address, port, found)


def test_the_rules_are_loaded_again_at_boot(host):
    """nftables.service loads /etc/nftables.conf at boot, which includes onebox's file: with the table
    gone, starting the service (as the boot does) brings the same rules back."""
    before = rules(host)
    with host.sudo():
        assert host.service("nftables").is_enabled
        host.check_output("nft delete table inet onebox")
        assert host.run("nft list table inet onebox").rc != 0
        host.check_output("systemctl restart nftables")
    assert rules(host) == before


def test_new_ssh_connections_are_rate_limited_per_source(host, operator):
    result = outside.burst(host, 22, 60)
    # The burst (firewall_ssh_burst, 20) gets in at once, the rest waits in vain.
    assert 15 <= result["accepted"] <= 30, result
    assert result["unanswered"] >= 25, result
    # Another source is not affected.
    assert subprocess.run(ssh_command(operator, "true"), timeout=60, check=False).returncode == 0


def test_a_change_of_rules_keeps_the_open_session_and_lets_new_ones_in(host, operator, tmp_path):
    session = subprocess.Popen(
        ssh_command(operator, "sleep 15; echo still-here"), stdout=subprocess.PIPE, text=True
    )
    try:
        changed = run_play(
            tmp_path, operator, FIREWALL, "-e", json.dumps({"firewall_allow": [{"port": 8443}]})
        )
        assert changed.returncode == 0, words(changed)[-3000:]
        assert "tcp dport 8443 accept" in rules(host)
        out, _ = session.communicate(timeout=60)
    finally:
        session.kill()
    assert out.strip() == "still-here"
    assert session.returncode == 0
    back = run_play(tmp_path, operator, FIREWALL)
    assert back.returncode == 0, words(back)[-3000:]
    assert "8443" not in rules(host)


def test_rules_that_shut_the_controller_out_are_taken_back(host, operator, tmp_path):
    before = rules(host)
    cut = {"firewall_extra_input_rules": ["tcp dport 22 ct state new drop"], "firewall_confirm_timeout": 20}
    result = run_play(tmp_path, operator, FIREWALL, "-e", json.dumps(cut))
    out = words(result)
    assert result.returncode != 0, out[-3000:]
    assert "The new firewall rules were not confirmed" in out, out[-3000:]
    assert "The previous rules are back in force" in out, out[-3000:]
    assert rules(host) == before
    with host.sudo():
        assert host.run("systemctl is-active onebox-firewall-revert.timer").stdout.strip() != "active"
    assert subprocess.run(ssh_command(operator, "true"), timeout=60, check=False).returncode == 0
