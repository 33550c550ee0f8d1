"""Which hosts each playbook's plays target (ansible-playbook --list-hosts, no connection): a
database replica gets only what a hot standby needs (site.yml's base, PostgreSQL and monitoring, make status,
the audit, make failover), and an inventory of one host in no group gets everything, with no warning."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

SPLIT = """onebox:
  children:
    db:
      hosts:
        primary: {ansible_host: 192.0.2.1}
    db_replica:
      hosts:
        replica: {ansible_host: 192.0.2.2}
"""
SINGLE = """onebox:
  hosts:
    vps: {ansible_host: 192.0.2.1}
"""
# Plays a replica is in: site.yml's preflight (its base, PostgreSQL and monitoring inputs), site.yml's play of
# its own, make status (its units, replay and disks), the Lynis audit, and the promotion.
REPLICA_PLAYS = {
    ("site.yml", "Check every input before anything changes"),
    ("site.yml", "Provision the database replicas"),
    ("status.yml", "Show the state of each host"),
    ("audit.yml", "Audit the hosts with Lynis"),
    ("failover.yml", "Promote a replica to primary"),
}
PLAYBOOKS = sorted(
    p.name for p in (ROOT / "playbooks").glob("*.yml") if p.name not in {"init.yml", "preflight.yml"}
)


def run_playbook(tmp_path, inventory, name, *extra, **env):
    """ansible-playbook with the project's ansible.cfg against an inventory written to tmp_path."""
    (tmp_path / "hosts.yml").write_text(inventory)
    return subprocess.run(
        [BIN / "ansible-playbook", "-i", tmp_path / "hosts.yml", ROOT / "playbooks" / name, *extra],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={
            "PATH": f"{BIN}:/usr/bin:/bin:/usr/sbin:/sbin",
            "HOME": str(tmp_path),
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            **env,
        },
    )


def plays(tmp_path, inventory, playbook_name):
    """{play name: hosts} and the run's warnings."""
    result = run_playbook(tmp_path, inventory, playbook_name, "--list-hosts")
    assert result.returncode == 0, result.stdout + result.stderr
    found = {}
    for block in re.split(r"\n\s*play #\d+ ", result.stdout)[1:]:
        name = re.match(r"\([^)]*\): (.*?)\tTAGS", block).group(1)
        found[name] = set(re.findall(r"^\s{6}(\S+)$", block, re.MULTILINE))
    warnings = [
        line for line in result.stderr.splitlines() if "Could not match" in line or "No hosts matched" in line
    ]
    return found, warnings


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_a_replica_gets_only_what_a_hot_standby_needs(tmp_path, playbook):
    found, _ = plays(tmp_path, SPLIT, playbook)
    for name, hosts in found.items():
        if (playbook, name) in REPLICA_PLAYS:
            assert "replica" in hosts, (name, hosts)
        else:
            assert "replica" not in hosts, (name, hosts)
        if playbook != "failover.yml" and name != "Provision the database replicas" and hosts:
            assert "primary" in hosts, (name, hosts)


@pytest.mark.parametrize("playbook", sorted(set(PLAYBOOKS) - {"failover.yml"}))
def test_one_host_in_no_group_gets_every_play(tmp_path, playbook):
    found, warnings = plays(tmp_path, SINGLE, playbook)
    for name, hosts in found.items():
        if name != "Provision the database replicas":
            assert hosts == {"vps"}, (name, hosts)
    assert not warnings, warnings


# The app on a host of its own, the primary alone on group db, a replica.
APP_SPLIT = """onebox:
  children:
    app:
      hosts:
        app1: {ansible_host: 192.0.2.11}
    db:
      hosts:
        primary: {ansible_host: 192.0.2.1}
    db_replica:
      hosts:
        replica: {ansible_host: 192.0.2.2}
"""
APPS = {"app1"}
EVERY = APPS | {"primary", "replica"}
# Per playbook, the hosts of each play (by a word of its name): releases on the app hosts, backups on
# the primary's, site.yml's main play on both (each with its own roles), status and the audit everywhere.
APP_SPLIT_PLAYS = {
    "site.yml": {
        "Check every input": EVERY,
        "Provision the onebox host": APPS | {"primary"},
        "replicas": {"replica"},
    },
    "deploy.yml": {"Check every input": APPS, "Deploy": APPS},
    "rollback.yml": {"Check every input": APPS, "Roll back": APPS},
    "releases.yml": {"release history": APPS},
    "backup.yml": {"backup": {"primary"}},
    "dump.yml": {"pg_dump": {"primary"}},
    "restore.yml": {"Restore": {"primary"}},
    "status.yml": {"state": EVERY},
    "audit.yml": {"Lynis": EVERY},
    "failover.yml": {"Promote": {"replica"}, "Point the app": APPS},
}


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_with_a_group_app_each_playbook_targets_the_hosts_of_its_part(tmp_path, playbook):
    found, warnings = plays(tmp_path, APP_SPLIT, playbook)
    expected = APP_SPLIT_PLAYS[playbook]
    for word, hosts in expected.items():
        matching = [name for name in found if word in name]
        assert len(matching) == 1, (word, list(found))
        assert found[matching[0]] == hosts, (matching[0], found[matching[0]])
    assert not warnings, warnings


@pytest.mark.parametrize(
    ("groups", "said"),
    [
        ({"app": ["app1", "app2"], "db": ["primary"]}, "several app hosts"),
        ({"app": ["app1"]}, "a group db one host"),
        ({"app": ["app1"], "db": ["primary"], "web": ["primary"]}, "a group web must list the same host"),
    ],
)
def test_groups_that_make_no_onebox_stop_site_yml_before_any_change(tmp_path, groups, said):
    """The preflight's first check, on every host (a local connection stands for each), in check mode."""
    hosts = sorted({name for members in groups.values() for name in members})
    inventory = {
        "onebox": {
            "hosts": {
                name: {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
                for name in hosts
            },
            "children": {group: {"hosts": dict.fromkeys(members)} for group, members in groups.items()},
        }
    }
    # The local connection needs no become; Ansible's own strategy (no Mitogen context per host).
    result = run_playbook(
        tmp_path,
        json.dumps(inventory),
        "site.yml",
        "--check",
        ANSIBLE_STRATEGY="linear",
        ANSIBLE_BECOME="false",
    )
    out = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0, out[-3000:]
    assert said in out, out[-3000:]
    assert "Check that the inventory's groups make one onebox" in out
    assert "changed=0" in out, out[-3000:]
    assert not re.search(r"changed=[1-9]", out), out[-3000:]
