"""Reading settings from the environment: every bad value fails with the variable's name."""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def load_env_file(default: Path) -> None:
    """Load the dotenv file named by DJANGO_ENV_FILE, else `default` if it exists.

    Variables already in the environment win (systemd's Environment=, a shell's export).
    """
    named = os.environ.get("DJANGO_ENV_FILE")
    if named and not os.path.exists(named):
        # A deployment that names its file and lacks it must not start on defaults.
        raise ImproperlyConfigured(f"DJANGO_ENV_FILE names {named}, which does not exist.")
    # No ${VAR} expansion: secret values may contain '$'.
    load_dotenv(named or default, override=False, interpolate=False)


def string(name: str, default: str = "") -> str:
    """The variable's value; empty counts as unset."""
    return os.environ.get(name) or default


def choice(name: str, choices: tuple[str, ...], default: str) -> str:
    value = string(name, default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {value!r}.")
    return value


def boolean(name: str, default: bool) -> bool:
    value = string(name).strip().lower()
    if not value:
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}.")


def integer(name: str, default: int, minimum: int = 0) -> int:
    value = string(name).strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {number}.")
    return number


def number(name: str, default: float, minimum: float = 0) -> float:
    """A decimal number such as 0.5; refuses NaN and infinity."""
    value = string(name).strip()
    if not value:
        return default
    try:
        result = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number (e.g. 0.5), not {value!r}.") from None
    if result != result or result in (float("inf"), float("-inf")):
        raise ImproperlyConfigured(f"{name} must be a finite number, not {value!r}.")
    if result < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum:g}, not {value}.")
    return result


def comma_list(name: str, default: tuple[str, ...] = ()) -> list[str]:
    value = string(name)
    if not value:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def path(name: str, default: Path) -> Path:
    return Path(string(name) or default)
