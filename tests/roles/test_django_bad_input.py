"""The django role refuses bad input before it changes anything, naming the variable at fault.

Each case runs the whole role with ansible-playbook against this machine, in check mode as a
second guard: validation (variables first, then the project's files on the controller) must stop
the play before any task reports a change. A control run with good input passes validation, so
each failure is the input's doing.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"

PLAYBOOK = """\
- name: Apply the django role to this machine
  hosts: localhost
  gather_facts: true
  roles:
    - role: django
"""

GOOD = {
    "onebox_app_name": "portfolio",
    "onebox_domain": "onebox.test",
    # 64 letters and digits, like the generated ones; a test value, never deployed.
    "django_secret_key": "k3Vq8ZpT1mWx6RbN0cYh4LfJ7sGd2AeU9oKi5nBt3XyMw8QzPv1CjR6gHu0DlEaS",
}


def run_role(tmp_path: Path, variables: dict, *args: str) -> subprocess.CompletedProcess:
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK)
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps(variables))
    return subprocess.run(
        [
            VENV_BIN / "ansible-playbook",
            "--inventory",
            "localhost,",
            "--connection",
            "local",
            "--check",
            "--extra-vars",
            f"ansible_python_interpreter={sys.executable}",
            "--extra-vars",
            f"@{extra}",
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


def without(variables: dict, name: str) -> dict:
    return {k: v for k, v in variables.items() if k != name}


def test_good_input_passes_validation(tmp_path):
    result = run_role(tmp_path, GOOD, "--tags", "validate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed=0" in result.stdout


CASES = {
    "missing app name": (without(GOOD, "onebox_app_name"), "django_app_name", "onebox_app_name"),
    "short secret key": (
        GOOD | {"django_secret_key": "only-29-characters-long-oops"},
        "django_secret_key",
        "at least 50",
    ),
    "debug on": (GOOD | {"django_debug": True}, "django_debug", "must be false"),
    "debug on through the extra environment": (
        GOOD | {"django_env_extra": {"DEBUG": "True"}},
        "django_env_extra.DEBUG",
        "must be false",
    ),
    "unknown WSGI module": (
        GOOD | {"django_wsgi_module": "config.nowhere:application"},
        "django_wsgi_module",
        "no config/nowhere.py",
    ),
    "WSGI module without the callable": (
        GOOD | {"django_wsgi_module": "config.urls:application"},
        "django_wsgi_module",
        "does not define application",
    ),
    "missing lock file": (
        GOOD | {"django_requirements_file": "requirements.missing"},
        "django_requirements_file",
        "does not exist",
    ),
    "missing settings module": (
        GOOD | {"django_settings_module": "config.nowhere"},
        "django_settings_module",
        "no config/nowhere.py",
    ),
}


@pytest.mark.parametrize(("variables", "name", "reason"), CASES.values(), ids=CASES.keys())
def test_bad_input_stops_the_play_before_any_change(tmp_path, variables, name, reason):
    result = run_role(tmp_path, variables)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    fatal = out[out.index("fatal: [localhost]: FAILED!") :]
    # The YAML callback folds long messages where the path lengths put the line ends: unfold them.
    message = " ".join(fatal[: fatal.index("PLAY RECAP")].split())
    assert name in message, message
    assert reason in message, message
    assert "roles/django/tasks/validate.yml" in out, out
    assert "changed: [localhost]" not in out
    assert "changed=0" in out[out.index("PLAY RECAP") :]
