"""Bad input to the postgresql role stops the play before anything changes, naming the variable.

Each case runs the real role through ansible-playbook against this machine, in check mode, and
checks that the play failed inside the validation (argument_specs or tasks/validate.yml) with a
message naming the variable, after which no other task of the role ran.
"""

import re
import sys
from pathlib import Path

import inputs
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "postgresql"
BIN = Path(sys.executable).parent


GOOD = {"onebox_app_name": "portfolio"}
SPEC_TASK = "Validating arguments against arg spec"


def validation_task_names():
    tasks = yaml.safe_load((ROLE / "tasks" / "validate.yml").read_text())
    # and the task that includes them (skipped after a playbook's preflight).
    return {task["name"] for task in tasks} | {"Validate the inputs"}


def run_role(tmp_path, variables, *args):
    return inputs.run_role(tmp_path, "postgresql", variables, *args)


def failure_report(output):
    """What ansible-playbook printed from the first failed task on."""
    failed = re.search(r"^(fatal|failed): \[localhost\]", output, re.MULTILINE)
    assert failed, output
    return output[failed.start() :]


def role_tasks_run(output):
    return re.findall(r"^TASK \[postgresql : (.*?)\] \*+$", output, re.MULTILINE)


def test_good_input_passes_validation(tmp_path):
    """The control: the same run with good input gets through every check."""
    result = run_role(tmp_path, GOOD, "--tags", "validate")
    assert result.returncode == 0, result.stdout + result.stderr
    ran = role_tasks_run(result.stdout)
    assert validation_task_names() <= {name for name in ran}


# The primary of one replica: this machine's own inventory name stands for it.
REPLICAS = {"postgresql_replicas": ["{{ inventory_hostname }}"]}
APP_HOST = {"postgresql_app_hosts": ["{{ inventory_hostname }}"], "onebox_private_address": "10.0.0.11"}
HBA = {"database": "portfolio", "user": "reporting", "address": "127.0.0.1/32"}

CASES = {
    "hba method md5": (
        {"postgresql_hba_entries": [{**HBA, "method": "md5"}]},
        "postgresql_hba_entries",
    ),
    "hba method trust": (
        {"postgresql_hba_entries": [{**HBA, "method": "trust"}]},
        "postgresql_hba_entries",
    ),
    "hba method password": (
        {"postgresql_hba_entries": [{**HBA, "method": "password"}]},
        "postgresql_hba_entries",
    ),
    "hba entry without address": (
        {"postgresql_hba_entries": [{"database": "portfolio", "user": "reporting"}]},
        "postgresql_hba_entries",
    ),
    "hba entry with a space in the address": (
        {"postgresql_hba_entries": [{**HBA, "address": "127.0.0.1/32 trust"}]},
        "postgresql_hba_entries",
    ),
    "hba entry open to every address": (
        {"postgresql_hba_entries": [{**HBA, "address": "0.0.0.0/0"}]},
        "postgresql_hba_entries",
    ),
    "databases not a list": (
        {"postgresql_databases": {"name": "portfolio", "owner": "portfolio"}},
        "postgresql_databases",
    ),
    "users not a list": ({"postgresql_users": "portfolio"}, "postgresql_users"),
    "database without owner": ({"postgresql_databases": [{"name": "portfolio"}]}, "postgresql_databases"),
    "database owned by an unknown role": (
        {"postgresql_databases": [{"name": "portfolio", "owner": "nobody"}]},
        "postgresql_databases",
    ),
    "zero max_connections": ({"postgresql_max_connections": 0}, "postgresql_max_connections"),
    "negative max_connections": ({"postgresql_max_connections": -5}, "postgresql_max_connections"),
    "negative shared_buffers": ({"postgresql_shared_buffers_mb": -1}, "postgresql_shared_buffers_mb"),
    "shared_buffers with a unit": ({"postgresql_shared_buffers_mb": "2GB"}, "postgresql_shared_buffers_mb"),
    "zero app workers": ({"onebox_app_workers": 0}, "onebox_app_workers"),
    "zero app workers, set on the role": ({"postgresql_app_workers": 0}, "postgresql_app_workers"),
    "md5 hash as a password": (
        {"postgresql_users": [{"name": "portfolio", "password": "md5" + "0" * 32}]},
        "postgresql_users",
    ),
    "role name with a quote": ({"postgresql_users": [{"name": "port'folio"}]}, "postgresql_users"),
    "quote in listen_addresses": (
        {"postgresql_listen_addresses": "localhost'"},
        "postgresql_listen_addresses",
    ),
    "extra setting lowering password_encryption": (
        {"postgresql_extra_settings": {"password_encryption": "md5"}},
        "postgresql_extra_settings",
    ),
    "extra setting with a bad name": (
        {"postgresql_extra_settings": {"work mem": "4MB"}},
        "postgresql_extra_settings",
    ),
    "max_wal_size below min_wal_size": ({"postgresql_max_wal_size_mb": 512}, "postgresql_max_wal_size_mb"),
    "version that is not a number": ({"postgresql_version": "latest"}, "postgresql_version"),
    "bad app name": ({"onebox_app_name": "Port Folio"}, "onebox_app_name"),
    "replicas without TLS": (
        {
            **REPLICAS,
            "postgresql_replication_password": "s3cret-enough",
            "postgresql_listen_addresses": "localhost",
        },
        "postgresql_tls",
    ),
    "replicas without a replication password": (
        {**REPLICAS, "postgresql_tls": True, "postgresql_listen_addresses": "localhost"},
        "postgresql_replication_password",
    ),
    "replication password with a backslash": (
        {
            **REPLICAS,
            "postgresql_tls": True,
            "postgresql_replication_password": "a\\b",
            "postgresql_listen_addresses": "*",
        },
        "postgresql_replication_password",
    ),
    "replicas on the socket only": (
        {**REPLICAS, "postgresql_tls": True, "postgresql_replication_password": "s3cret"},
        "postgresql_listen_addresses",
    ),
    "replica of itself": (
        {
            "postgresql_replica": True,
            "postgresql_primary": "{{ inventory_hostname }}",
            "postgresql_tls": True,
            "postgresql_replication_password": "s3cret",
        },
        "postgresql_primary",
    ),
    "TLS name with a space": (
        {"postgresql_tls": True, "postgresql_tls_names": ["db 1"]},
        "postgresql_tls_names",
    ),
    "reader open to every address": (
        {"postgresql_readonly_users": [{"name": "analyst", "password": "s3cret", "address": "0.0.0.0/0"}]},
        "postgresql_readonly_users",
    ),
    "reader open to half of every address": (
        {"postgresql_readonly_users": [{"name": "analyst", "password": "s3cret", "address": "128.0.0.0/1"}]},
        "postgresql_readonly_users",
    ),
    "hba entry open to every address, as all": (
        {"postgresql_hba_entries": [{**HBA, "address": "all"}]},
        "postgresql_hba_entries",
    ),
    "two replicas that would share a slot": (
        {
            "postgresql_replicas": ["{{ inventory_hostname }}", "{{ inventory_hostname | upper }}"],
            "postgresql_tls": True,
            "postgresql_replication_password": "s3cret-enough",
            "postgresql_listen_addresses": "*",
        },
        "replication slots",
    ),
    # The app on a host of its own (this machine's own name stands for it): only TLS on the private
    # address, with the app's password.
    "app host without TLS": (
        {**APP_HOST, "onebox_db_password": "s3cret-enough", "postgresql_listen_addresses": "*"},
        "postgresql_tls",
    ),
    "app host on a primary listening on localhost only": (
        {
            **APP_HOST,
            "postgresql_tls": True,
            "onebox_db_password": "s3cret-enough",
            "postgresql_listen_addresses": "localhost",
        },
        "postgresql_listen_addresses",
    ),
    "app host without the app's password": (
        {**APP_HOST, "postgresql_tls": True, "postgresql_listen_addresses": "localhost,10.0.0.11"},
        "vault_db_password",
    ),
    "reader without a password": (
        {"postgresql_readonly_users": [{"name": "analyst", "password": "", "address": "10.0.0.5/32"}]},
        "postgresql_readonly_users",
    ),
}


# Every case in one run (inputs.run_cases), each a host of its own.
refusals = inputs.batch("postgresql", {case: {**GOOD, **overrides} for case, (overrides, _) in CASES.items()})


@pytest.mark.parametrize("case", CASES)
def test_bad_input_stops_before_any_change(refusals, case):
    variable = CASES[case][1]
    result = refusals[case]
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    failure = failure_report(result.stdout)
    assert variable in failure, failure
    ran = role_tasks_run(result.stdout)
    allowed = validation_task_names()
    assert all(name.startswith(SPEC_TASK) or name in allowed for name in ran), ran
    assert re.search(r"localhost\s+: ok=\d+\s+changed=0\s+unreachable=0\s+failed=1", result.stdout)


def test_missing_app_name_is_named(tmp_path):
    result = run_role(tmp_path, {})
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "onebox_app_name" in failure_report(result.stdout)
    assert all(name.startswith(SPEC_TASK) for name in role_tasks_run(result.stdout))
