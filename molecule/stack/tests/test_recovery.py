"""Restart on failure, under load: gunicorn's master and nginx's master killed with SIGKILL, and
PostgreSQL restarted, each come back on their own and the site answers again within seconds.
The failed-request counts are measured and printed ([load] lines), not asserted to be zero: a
request in flight when its process is killed fails, as it would on Fargate or RDS."""

import time

from conftest import APP, load_window

# How long a service may take to come back before the test calls it lost (a bound, not a target).
BACK_WITHIN = 60


def main_pid(host, unit):
    with host.sudo():
        return int(host.check_output("systemctl show --property=MainPID --value %s", unit))


def wait_for_health(site, seconds=BACK_WITHIN, start=None):
    """Seconds since `start` (default: now) until GET /health/ answers 200 through nginx; fails after
    `seconds`."""
    start = start or time.monotonic()
    last = None
    while time.monotonic() - start < seconds:
        try:
            last = site.get("/health/", timeout=5).status
            if last == 200:
                return time.monotonic() - start
        except OSError as error:
            last = repr(error)
        time.sleep(0.2)
    raise AssertionError(f"/health/ did not answer 200 within {seconds} s; last: {last}")


def wait_for_new_main_pid(host, unit, old, seconds=BACK_WITHIN):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pid = main_pid(host, unit)
        if pid not in (0, old):
            return pid
        time.sleep(0.2)
    raise AssertionError(f"{unit} did not come back within {seconds} s")


def kill_9_and_wait(site, host, unit, name, tmp_path):
    old = main_pid(host, unit)
    assert old > 0
    with load_window(site, name, tmp=tmp_path) as load:
        killed = time.monotonic()
        with host.sudo():
            host.run_test("kill -9 %s", str(old))
        new = wait_for_new_main_pid(host, unit, old)
        back = wait_for_health(site, start=killed)
    print(f"\n[recovery] {name}: {unit} back as pid {new}, site answering {back:.1f} s after the kill")
    with host.sudo():
        assert host.service(unit).is_running
    assert load["ok"] > 0
    return load


def test_kill_9_of_gunicorns_master_comes_back_on_its_own(site, host, tmp_path):
    kill_9_and_wait(site, host, f"{APP}.service", "kill -9 of gunicorn's master", tmp_path)


def test_kill_9_of_nginxs_master_comes_back_on_its_own(site, host, tmp_path):
    kill_9_and_wait(site, host, "nginx.service", "kill -9 of nginx's master", tmp_path)


def test_the_app_answers_within_seconds_of_postgresql_returning(site, host, tmp_path):
    with host.sudo():
        (version,) = host.check_output("ls /etc/postgresql").split()
    unit = f"postgresql@{version}-main.service"
    with load_window(site, "PostgreSQL restart", tmp=tmp_path) as load:
        with host.sudo():
            # Returns once the cluster accepts connections again (the unit is Type=forking).
            host.run_test("systemctl restart %s", unit)
        back = wait_for_health(site, seconds=10)
    print(f"\n[recovery] PostgreSQL restart: the app answered {back:.1f} s after the database returned")
    # The persistent connections the workers held are dead; the health checks replace them.
    response = site.get("/api/portfolios/")
    assert response.status == 200, response.body[:500]
    assert load["ok"] > 0
