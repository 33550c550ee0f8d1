"""The monitoring role refuses bad input before it changes anything, naming the variable at fault.

Each case runs the role with ansible-playbook against this machine in check mode; the play must
stop in the role's validation with nothing changed. A control run with good input passes the same
validation, so each failure is the input's."""

from pathlib import Path

import inputs
import pytest

GOOD = {
    "onebox_app_name": "portfolio",
    "onebox_domain": "onebox.test",
    "onebox_admin_email": "ops@onebox.test",
}
SECRET = "https://hooks.example.org/services/T000/B000/very-secret-token"


def run_role(tmp_path: Path, variables: dict, *args: str):
    return inputs.run_role(tmp_path, "monitoring", variables, *args)


def test_good_input_passes_validation(tmp_path):
    receivers = {
        "monitoring_smtp_smarthost": "smtp.example.org:587",
        "monitoring_webhooks": [{"url": SECRET, "kind": "slack"}, {"url": "https://ntfy.sh/topic"}],
    }
    result = run_role(tmp_path, GOOD | receivers, "--tags=validate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed=0" in result.stdout


def test_a_host_that_serves_no_site_needs_no_probe_ca(tmp_path):
    """A database replica (monitoring_site false) probes nothing: the local inventory's Pebble root,
    absent there, is not asked for."""
    variables = GOOD | {"monitoring_site": False, "monitoring_probe_ca_file": "/nonexistent/ca.pem"}
    result = run_role(tmp_path, variables, "--tags=validate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed=0" in result.stdout


CASES = {
    "retention in words": (
        GOOD | {"monitoring_retention_time": "a month"},
        "monitoring_retention_time",
        "durations",
    ),
    "scrape interval without a unit": (
        GOOD | {"monitoring_scrape_interval": "30"},
        "monitoring_scrape_interval",
        "30s",
    ),
    "retention size in words": (
        GOOD | {"monitoring_retention_size": "lots"},
        "monitoring_retention_size",
        "2GB",
    ),
    "disk ratio as a percentage": (
        GOOD | {"monitoring_disk_used_ratio": 80},
        "monitoring_disk_used_ratio",
        "0 and 1",
    ),
    "5xx ratio of zero": (GOOD | {"monitoring_http_5xx_ratio": 0}, "monitoring_http_5xx_ratio", "0 and 1"),
    "replication lag of zero": (
        GOOD | {"monitoring_replication_lag_seconds": 0},
        "monitoring_replication_lag_seconds",
        "positive",
    ),
    "site flag in words": (GOOD | {"monitoring_site": "sometimes"}, "monitoring_site", "bool"),
    "probe path without a slash": (
        GOOD | {"monitoring_probe_paths": ["health/"]},
        "monitoring_probe_paths",
        "/",
    ),
    "smarthost without a port": (
        GOOD | {"monitoring_smtp_smarthost": "smtp.example.org"},
        "monitoring_smtp_smarthost",
        "host:port",
    ),
    "probe CA that is not on the host": (
        GOOD | {"monitoring_probe_ca_file": "/nonexistent/ca.pem"},
        "monitoring_probe_ca_file",
        "a file on the host",
    ),
    "webhook of an unknown kind": (
        GOOD | {"monitoring_webhooks": [{"url": "https://ntfy.sh/t"}, {"url": SECRET, "kind": "teams"}]},
        "monitoring_webhooks",
        "entries 2",
    ),
    "webhook without a URL": (
        GOOD | {"monitoring_webhooks": [{"kind": "slack"}]},
        "monitoring_webhooks",
        "entries 1",
    ),
}


# Every case in one run (inputs.run_cases), each a host of its own.
refusals = inputs.batch(
    "monitoring", {case: variables for case, (variables, _, _) in CASES.items()}, "--tags=validate"
)


@pytest.mark.parametrize("case", CASES)
def test_bad_input_stops_before_any_change_naming_the_variable(refusals, case):
    _, name, reason = CASES[case]
    message = inputs.assert_refused(refusals[case], name, reason)
    # A webhook's URL may hold a token: never in the message.
    assert "very-secret-token" not in message
