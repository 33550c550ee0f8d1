"""Helpers for the backup scenario: SQL on the test host, and the project's playbooks run against it."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))

# The scenario's tests import query from here.
from database import query

APP = "portfolio"
STANZA = APP
PROJECT = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
EPHEMERAL = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])


def playbook(name, *extra_vars, check=True):
    """Run playbooks/<name> against the test host, as an operator would; its result."""
    command = [
        "ansible-playbook",
        "-i",
        os.environ["MOLECULE_INVENTORY_FILE"],
        str(PROJECT / "playbooks" / name),
    ]
    for variables in extra_vars:
        command += ["-e", json.dumps(variables)]
    result = subprocess.run(
        command,
        cwd=PROJECT,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if check:
        assert result.returncode == 0, f"{name} failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
    # Ansible wraps long messages, prints failures on stderr and doubles quotes in YAML:
    # compare the words.
    result.text = " ".join((result.stdout + result.stderr).replace("''", "'").split())
    return result


def pgbackrest_info(host):
    out = host.run("runuser -u postgres -- pgbackrest --stanza=%s --output=json info", STANZA)
    assert out.rc == 0, out.stderr
    return json.loads(out.stdout)[0]


def wait_until_archived(host, timeout=60):
    """Until no finished WAL segment waits for the archiver (pg_wal/archive_status/*.ready)."""
    deadline = time.monotonic() + timeout
    sql = "SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'"
    while time.monotonic() < deadline:
        if query(host, sql) == "0":
            return
        time.sleep(0.5)
    raise AssertionError(f"WAL segments still wait for the archiver after {timeout} s")


def unit_property(host, unit, name):
    return host.check_output("systemctl show --value --property=%s %s", name, unit)


@pytest.fixture(scope="module")
def version(host):
    return {"bookworm": 15, "trixie": 17}[host.system_info.codename]
