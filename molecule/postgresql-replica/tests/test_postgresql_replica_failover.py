"""make failover, last (pytest runs this file after the others): the replica becomes the primary,
and the app on its own host writes to it."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
import testinfra

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))

from app_api import post_holding
from database import query
from scenario import playbook, words

APP = "portfolio"
VERSIONS = {"bookworm": 15, "trixie": 17}
# The inputs converge.yml gave the hosts (the internal CA's folder among them) and the app host's own:
# make failover runs the django role on the app host again.
VARS = Path(__file__).resolve().parents[1] / "vars"
APP_VARS = ["-e", f"@{VARS / 'hosts.yml'}", "-e", f"@{VARS / 'app.yml'}"]

testinfra_hosts = ["db_replica"]


@pytest.fixture(scope="module")
def inventory(request):
    return request.config.option.ansible_inventory


@pytest.fixture(scope="module")
def old_primary(inventory):
    (old,) = testinfra.get_hosts(["db"], connection="ansible", ansible_inventory=inventory)
    return old


def test_a_primary_that_does_not_answer_is_not_promoted_over(host, old_primary):
    """Unreached is not down: with the primary's container paused (every command to it fails), the
    failover refuses, names UNFENCED=yes, and the replica stays a standby. (Runs before `promoted`.)"""
    container = old_primary.backend.get_hostname()
    subprocess.run(["docker", "pause", container], check=True)
    try:
        refused = playbook("playbooks/failover.yml", *APP_VARS, timeout=300)
    finally:
        unpause(container)
    said = words(refused)
    assert refused.returncode != 0, said[-3000:]
    assert "did not answer" in said, said[-3000:]
    assert "UNFENCED=yes" in said, said[-3000:]
    assert "nothing was promoted" in said, said[-3000:]
    assert query(host, "SELECT pg_is_in_recovery()") == "t"


def unpause(container):
    """Unpause, and make sure of it: the tests after this one need the primary."""
    for _ in range(10):
        subprocess.run(["docker", "unpause", container], capture_output=True, check=False)
        state = subprocess.run(
            ["docker", "inspect", "-f", "{{.State.Paused}}", container],
            capture_output=True,
            text=True,
            check=False,
        )
        if state.stdout.strip() == "false":
            return
        time.sleep(1)
    raise AssertionError(f"{container} stayed paused")


@pytest.fixture(scope="module")
def promoted(host):
    assert query(host, "SELECT pg_is_in_recovery()") == "t"
    result = playbook("playbooks/failover.yml", *APP_VARS)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    return result


def test_the_replica_takes_writes_once_promoted(host, promoted):
    assert query(host, "SELECT pg_is_in_recovery()") == "f"
    query(host, "CREATE TABLE onebox_after_failover (id int)", db=APP)
    query(host, "INSERT INTO onebox_after_failover VALUES (1)", db=APP)
    assert query(host, "SELECT count(*) FROM onebox_after_failover", db=APP) == "1"
    assert "is now the primary and takes writes" in words(promoted)


def test_the_old_primary_is_fenced(promoted, old_primary):
    old = old_primary
    unit = f"postgresql@{VERSIONS[old.system_info.codename]}-main"
    assert not old.service(unit).is_running
    assert old.run("systemctl is-enabled %s", unit).stdout.strip() == "masked"
    assert old.run("runuser -u postgres -- psql -XAtq -c 'SELECT 1'").rc != 0


def test_a_second_failover_changes_nothing_and_says_why(host, promoted):
    again = playbook("playbooks/failover.yml", *APP_VARS)
    assert again.returncode != 0
    said = words(again)
    assert "is not a standby" in said, said[-2000:]
    assert "already promoted" in said, said[-2000:]
    assert query(host, "SELECT pg_is_in_recovery()") == "f"


@pytest.fixture(scope="module")
def app(inventory):
    (app,) = testinfra.get_hosts(["app"], connection="ansible", ansible_inventory=inventory)
    return app


def test_the_app_on_its_own_host_writes_to_the_promoted_replica(host, promoted, app):
    address = host.ansible("setup", "filter=ansible_default_ipv4")["ansible_facts"]["ansible_default_ipv4"][
        "address"
    ]
    assert f'DB_HOST="{address}"' in app.file("/etc/portfolio/env").content_string
    status, body = post_holding(app, "FAILOVR", quantity="1", cost_basis="1.00")
    assert status == 201, body
    assert query(host, "SELECT count(*) FROM portfolios_holding WHERE symbol = 'FAILOVR'", db=APP) == "1"
