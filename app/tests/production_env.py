"""Running the app in a subprocess with an environment built from scratch."""

import os
import subprocess
import sys
from pathlib import Path

APP_DIR = Path(__file__).resolve().parent.parent

# Everything production mode requires, and nothing more.
PRODUCTION_ENV = {
    "DJANGO_ENV": "production",
    "DJANGO_SECRET_KEY": "tests-only-secret-key-3f9a1c77e0b44d2a8e6b5f0c1d2e3f4a5b6c7d8e9f0a1b2c3d",
    "DJANGO_ALLOWED_HOSTS": "app.example.com",
    "DB_NAME": "onebox",
}


def environment(variables: dict[str, str]) -> dict[str, str]:
    """The caller's environment without any of the app's variables, plus `variables`.

    DJANGO_ENV_FILE defaults to /dev/null so that a developer's app/.env stays out of it.
    """
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "DB_", "PORTFOLIO_", "CELERY_"))
    }
    return inherited | {"DJANGO_ENV_FILE": os.devnull} | variables


def run(args: list[str], variables: dict[str, str]) -> subprocess.CompletedProcess:
    """`python args...` in the app directory with only `variables` set for the app."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=APP_DIR,
        env=environment(variables),
        capture_output=True,
        text=True,
        timeout=120,
    )
