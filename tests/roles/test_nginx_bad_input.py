"""The nginx role refuses bad input before it changes anything, naming the variable at fault.

Each case runs the role with ansible-playbook against this machine in check mode, so even a
validation gap could not change it; the play must stop in the role's validation with nothing
changed. A control run with good input passes the same validation, so each failure is the input's.
"""

from pathlib import Path

import inputs
import pytest

GOOD = {"onebox_app_name": "portfolio", "onebox_domain": "onebox.test"}


def run_role(tmp_path: Path, variables: dict, *args: str):
    return inputs.run_role(tmp_path, "nginx", variables, *args)


def test_good_input_passes_validation(tmp_path):
    result = run_role(tmp_path, GOOD, "--tags=validate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed=0" in result.stdout


CASES = {
    "missing domain": ({"onebox_app_name": "portfolio"}, "onebox_domain", "undefined"),
    "domain with a space": (GOOD | {"nginx_domain": "onebox test"}, "nginx_domain", "DNS name"),
    "alias with a bad label": (
        GOOD | {"nginx_domain_aliases": ["www.onebox.test", "-bad-.onebox.test"]},
        "nginx_domain_aliases",
        "DNS name",
    ),
    "app name with a slash": (GOOD | {"nginx_app_name": "port/folio"}, "nginx_app_name", "lower case"),
    "body size in words": (
        GOOD | {"nginx_client_max_body_size": "2 megabytes"},
        "nginx_client_max_body_size",
        "a size such as 2m",
    ),
    "timeout in words": (
        GOOD | {"nginx_proxy_read_timeout": "a minute"},
        "nginx_proxy_*_timeout",
        "a time such as 60s",
    ),
    "proxied path without trailing slash": (
        GOOD | {"nginx_proxy_paths": ["/api"]},
        "nginx_proxy_paths",
        "a trailing slash",
    ),
    "proxying the whole site": (GOOD | {"nginx_proxy_paths": ["/"]}, "nginx_proxy_paths", "not / itself"),
    "CSP override for a path not proxied": (
        GOOD | {"nginx_csp_overrides": {"/other/": "default-src 'self'"}},
        "nginx_csp_overrides",
        "must be one of them",
    ),
    "CSP with a double quote": (
        GOOD | {"nginx_csp": "default-src 'self'\"; evil"},
        "nginx_csp",
        "without double quotes",
    ),
    "relative static folder": (
        GOOD | {"nginx_static_dir": "srv/portfolio/static"},
        "nginx_static_dir",
        "absolute path",
    ),
    "socket path with a semicolon": (
        GOOD | {"nginx_gunicorn_socket": "/run/x.sock; evil"},
        "nginx_gunicorn_socket",
        "absolute path",
    ),
    "private media folder climbing up": (
        GOOD | {"nginx_media_private_dirs": ["../etc"]},
        "nginx_media_private_dirs",
        "folder names",
    ),
    "negative HSTS age": (GOOD | {"nginx_hsts_max_age": -1}, "nginx_hsts_max_age", "a number of seconds"),
    "TLS switch that is not a boolean": (GOOD | {"nginx_tls": "maybe"}, "nginx_tls", "bool"),
}


# Every case in one run (inputs.run_cases), each a host of its own.
refusals = inputs.batch("nginx", {case: variables for case, (variables, _, _) in CASES.items()})


@pytest.mark.parametrize("case", CASES)
def test_bad_input_stops_the_play_before_any_change(refusals, case):
    _, name, reason = CASES[case]
    # Stopped in validation: nothing was installed, not even in check mode.
    inputs.assert_refused(
        refusals[case],
        name,
        reason,
        not_reached="Ensure nginx and its brotli modules are installed",
    )
