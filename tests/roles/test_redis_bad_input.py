"""The redis role refuses bad input before it changes anything, naming the variable at fault; the
password never appears in what it says."""

from pathlib import Path

import inputs
import pytest

PASSWORD = "a-very-secret-redis-password-42"
GOOD = {
    "onebox_app_name": "portfolio",
    "onebox_domain": "onebox.test",
    "onebox_redis": True,
    "onebox_redis_password": PASSWORD,
}


def run_role(tmp_path: Path, variables: dict, *args: str):
    return inputs.run_role(tmp_path, "redis", variables, *args)


def test_good_input_passes_validation(tmp_path):
    result = run_role(tmp_path, GOOD, "--tags=validate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed=0" in result.stdout


CASES = {
    "no password": (GOOD | {"onebox_redis_password": ""}, "redis_password", "at least 16"),
    "short password": (GOOD | {"onebox_redis_password": "short-secret"}, "redis_password", "at least 16"),
    "password with a space": (
        GOOD | {"onebox_redis_password": "a secret with spaces in it"},
        "redis_password",
        "without whitespace",
    ),
    "socket outside /run/redis": (
        GOOD | {"onebox_redis_socket": "/tmp/redis.sock"},
        "redis_socket",
        "/run/redis",
    ),
    "memory in words": (GOOD | {"redis_maxmemory": "a lot"}, "redis_maxmemory", "256mb"),
    "snapshot rule in words": (GOOD | {"redis_save": ["hourly"]}, "redis_save", "<seconds> <changes>"),
    "user with a space": (GOOD | {"onebox_redis_user": "my app"}, "redis_user", "letters, digits"),
}


# Every case in one run (inputs.run_cases), each a host of its own.
refusals = inputs.batch(
    "redis", {case: variables for case, (variables, _, _) in CASES.items()}, "--tags=validate"
)


@pytest.mark.parametrize("case", CASES)
def test_bad_input_stops_before_any_change_naming_the_variable(refusals, case):
    variables, name, reason = CASES[case]
    message = inputs.assert_refused(refusals[case], name, reason)
    # Whatever the password is, bad or good, the message never holds it.
    password = variables["onebox_redis_password"]
    assert not password or password not in message


def test_a_policy_that_could_evict_the_queue_is_refused(tmp_path):
    """allkeys-lru would evict a queued task (a key without expiry) to make room for the cache."""
    result = run_role(tmp_path, GOOD | {"redis_maxmemory_policy": "allkeys-lru"}, "--tags=validate")
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "redis_maxmemory_policy" in out, out
    assert "allkeys-lru" in out, out
    assert "changed=0" in out[out.index("PLAY RECAP") :], out
