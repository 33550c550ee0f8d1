"""The django role refuses bad input before it changes anything, naming the variable at fault.

Each case runs the whole role with ansible-playbook against this machine, in check mode as a
second guard: validation (variables first, then the project's files on the controller) must stop
the play before any task reports a change. A control run with good input passes validation, so
each failure is the input's doing.
"""

from pathlib import Path

import inputs
import pytest

GOOD = {
    "onebox_app_name": "portfolio",
    "onebox_domain": "onebox.test",
    # 64 letters and digits, like the generated ones; a test value, never deployed.
    "django_secret_key": "k3Vq8ZpT1mWx6RbN0cYh4LfJ7sGd2AeU9oKi5nBt3XyMw8QzPv1CjR6gHu0DlEaS",
}


def run_role(tmp_path: Path, variables: dict, *args: str):
    return inputs.run_role(tmp_path, "django", variables, *args)


def without(variables: dict, name: str) -> dict:
    return {k: v for k, v in variables.items() if k != name}


def test_good_input_passes_validation(tmp_path):
    result = run_role(tmp_path, GOOD, "--tags", "validate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed=0" in result.stdout


CASES = {
    "missing app name": (without(GOOD, "onebox_app_name"), "onebox_app_name", "undefined"),
    "short secret key": (
        GOOD | {"django_secret_key": "only-29-characters-long-oops"},
        "django_secret_key",
        "at least 50",
    ),
    "debug on": (GOOD | {"django_debug": True}, "django_debug", "must be false"),
    # The database on a host of its own (group db) whose address nobody knows, without the app's password.
    "database on another host, unknown, no password": (
        GOOD | {"onebox_db_host": "db-elsewhere", "onebox_db_password": ""},
        "django_db_password",
        "on another host (db-elsewhere",
    ),
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
    "celery without a broker": (GOOD | {"django_celery": True}, "django_celery", "needs a broker"),
    "celery queue with a space": (
        GOOD
        | {
            "onebox_redis": True,
            "onebox_redis_password": "p" * 20,
            "django_celery": True,
            "django_celery_queues": ["mail jobs"],
        },
        "django_celery_queues",
        "queue name",
    ),
    "visibility timeout shorter than a task": (
        GOOD | {"django_celery_max_task_seconds": 600, "django_celery_visibility_timeout": 300},
        "django_celery_visibility_timeout",
        "longer than django_celery_max_task_seconds",
    ),
    "timer without a command": (
        GOOD | {"django_timers": [{"name": "nightly", "schedule": "daily"}]},
        "django_timers",
        "a command",
    ),
    "timer with a name systemd cannot carry": (
        GOOD | {"django_timers": [{"name": "Night Job", "schedule": "daily", "command": ["clearsessions"]}]},
        "django_timers",
        "unique name",
    ),
    "two timers of one name": (
        GOOD
        | {
            "django_timers": [
                {"name": "a", "schedule": "daily", "command": ["x"]},
                {"name": "a", "schedule": "hourly", "command": ["y"]},
            ]
        },
        "django_timers",
        "unique name",
    ),
    "timer schedule systemd cannot read": (
        GOOD
        | {"django_timers": [{"name": "nightly", "schedule": "every night", "command": ["clearsessions"]}]},
        "django_timers",
        "cannot read a schedule",
    ),
}


# The cases in as few runs as the role allows (inputs.run_cases), each a host of its own. The project
# on the controller is inspected once a run: cases that change where it is or what is looked for in
# it run apart.
refusals = inputs.batch(
    "django",
    {case: variables for case, (variables, _, _) in CASES.items()},
    shared=("django_source_dir", "django_manage_py", "django_wsgi_module", "django_settings_module"),
)


@pytest.mark.parametrize("case", CASES)
def test_bad_input_stops_the_play_before_any_change(refusals, case):
    _, name, reason = CASES[case]
    # The contract's own spec (the onebox role, a dependency) refuses a missing app name before
    # the django role's checks start; every other rule is the django role's.
    contract = name.startswith("onebox_")
    where = "TASK [onebox : Validating arguments" if contract else "roles/django/tasks/validate.yml"
    inputs.assert_refused(refusals[case], name, reason, where=where)
