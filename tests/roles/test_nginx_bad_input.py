"""The nginx role refuses bad input before it changes anything, naming the variable at fault.

Each case runs the role with ansible-playbook against this machine in check mode, so even a
validation gap could not change it; the play must stop in the role's validation with nothing
changed. A control run with good input passes the same validation, so each failure is the input's.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"

GOOD = {"onebox_app_name": "portfolio", "onebox_domain": "onebox.test"}


def run_role(tmp_path: Path, variables: dict, *args: str) -> subprocess.CompletedProcess:
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        "- name: Apply the nginx role to this machine\n  hosts: localhost\n  roles:\n    - role: nginx\n"
    )
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps(variables))
    return subprocess.run(
        [
            VENV_BIN / "ansible-playbook",
            "--inventory=localhost,",
            "--connection=local",
            "--check",
            f"--extra-vars=ansible_python_interpreter={sys.executable}",
            f"--extra-vars=@{extra}",
            *args,
            playbook,
        ],
        cwd=ROOT,
        env={
            "PATH": f"{VENV_BIN}:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_ROLES_PATH": str(ROOT / "roles"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(tmp_path / "facts"),
        },
        capture_output=True,
        text=True,
        check=False,
    )


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


@pytest.mark.parametrize(("variables", "name", "reason"), CASES.values(), ids=CASES.keys())
def test_bad_input_stops_the_play_before_any_change(tmp_path, variables, name, reason):
    result = run_role(tmp_path, variables)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    # "fatal: [localhost]: FAILED!", or "failed: [localhost] (item=...)" for a looped check
    failure = re.search(r"(fatal|failed): \[localhost\]", out)
    assert failure, out
    # Ansible wraps long messages; the words matter, not the line breaks.
    message = " ".join(out[failure.start() : out.index("PLAY RECAP")].split())
    assert name in message, message
    assert reason in message, message
    assert "changed: [localhost]" not in out
    # Stopped in validation: nothing was installed, not even in check mode.
    assert "Ensure nginx and its brotli modules are installed" not in out
