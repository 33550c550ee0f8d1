"""The host baseline's roles (common, firewall, sshd) and certbot refuse bad input before any change,
naming the variable at fault; the same run with good input passes (the control)."""

import inputs
import pytest
from inputs import check_inputs

SITE = {
    "onebox_app_name": "portfolio",
    "onebox_domain": "onebox.test",
    "onebox_admin_email": "ops@onebox.test",
}
# Validation tasks: the argument specs, or a role's own checks.
VALIDATION = ("Validating arguments", "Check ")


@pytest.mark.parametrize("role", ["common", "firewall", "sshd", "certbot"])
def test_good_input_passes(tmp_path, role):
    outcome = check_inputs(tmp_path, role, SITE)
    assert outcome.returncode == 0, outcome.output[-3000:]


CASES = {
    "common: bad domain": ("common", {"onebox_domain": "bad_domain!"}, "onebox_domain"),
    "common: bad email": ("common", {"onebox_admin_email": "not-an-email"}, "onebox_admin_email"),
    "common: alias not a list": ("common", {"onebox_domain_aliases": "www.x.test"}, "onebox_domain_aliases"),
    "common: app name with a slash": ("common", {"onebox_app_name": "port/folio"}, "onebox_app_name"),
    "common: mirror not a URL": ("common", {"common_security_mirror": "mirror"}, "common_security_mirror"),
    "firewall: port out of range": (
        "firewall",
        {"firewall_allowed_tcp_ports": [70000]},
        "firewall_allowed_tcp_ports",
    ),
    "firewall: opening from a host name": (
        "firewall",
        {"firewall_allow": [{"port": 9100, "from": ["monitoring.example.org"]}]},
        "firewall_allow",
    ),
    "firewall: opening with host bits": (
        "firewall",
        {"firewall_allow": [{"port": 9100, "from": ["10.0.0.1/8"]}]},
        "firewall_allow",
    ),
    "firewall: rate in words": ("firewall", {"firewall_ssh_rate": "ten a minute"}, "firewall_ssh_rate"),
    "firewall: two rules in one": (
        "firewall",
        {"firewall_extra_input_rules": ["ip saddr 10.0.0.0/8 drop; flush ruleset"]},
        "firewall_extra_input_rules",
    ),
    "firewall: no time to confirm": ("firewall", {"firewall_confirm_timeout": 5}, "firewall_confirm_timeout"),
    "firewall: PostgreSQL peer not in the inventory": (
        "firewall",
        {"firewall_postgresql_peers": ["db9.example.org"]},
        "firewall_postgresql_peers",
    ),
    "sshd: root login with a password": ("sshd", {"sshd_permit_root_login": "yes"}, "sshd_permit_root_login"),
    "sshd: passwords through the back door": (
        "sshd",
        {"sshd_extra_settings": {"PasswordAuthentication": "yes"}},
        "sshd_extra_settings",
    ),
    "sshd: a Match block": ("sshd", {"sshd_extra_settings": {"Match": "User backup"}}, "sshd_extra_settings"),
    "certbot: ACME server over plain HTTP": (
        "certbot",
        {"certbot_acme_server": "http://acme.example.org/dir"},
        "certbot_acme_server",
    ),
}


@pytest.fixture(scope="module")
def refusals(tmp_path_factory):
    """Each role's cases in one run (inputs.run_cases), each a host of its own."""
    outcomes = {}
    for role in {role for role, _, _ in CASES.values()}:
        cases = {case: SITE | variables for case, (of, variables, _) in CASES.items() if of == role}
        outcomes |= inputs.run_cases(tmp_path_factory.mktemp(role), role, cases, "--tags=validate")
    return outcomes


@pytest.mark.parametrize("case", CASES)
def test_bad_input_stops_before_any_change_naming_the_variable(refusals, case):
    name = CASES[case][2]
    outcome = inputs.outcome(refusals[case])
    assert outcome.returncode != 0, outcome.output[-3000:]
    assert name in outcome.message, outcome.message
    assert outcome.failed_task.split(" : ")[-1].startswith(VALIDATION), outcome.failed_task
