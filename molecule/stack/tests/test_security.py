"""The security baseline as strangers meet it: traffic from a network namespace joined to the host
(molecule/shared/outside.py), over IPv4 and IPv6, through the host's firewall. Only SSH and the web
ports answer, SSH takes keys alone, bursts at the login form and the API's writes get 429 while other
traffic passes, the app sees the client's address, and the units' sandboxes are measured."""

import re
import secrets
import time

import outside
import pytest
from conftest import APP, DOMAIN

WEB = (22, 80, 443)
CLOSED = (25, 5432, 8099)
# Exposure figures (systemd-analyze security) each unit must stay at or under.
EXPOSURE_LIMIT = 4.5


def statuses(host, count, *args, source=None, burst=False):
    """`count` requests from outside, by the site's name at the host's IPv4 address (Pebble's root is
    not needed: the status is what counts): one after the other, or all at once (a burst, up to 30
    connections side by side). Their status codes."""
    bind = f"--interface {source} " if source else ""
    url = args[-1]
    options = " ".join(args[:-1])
    common = f"curl -sk {bind}--max-time 20 --resolve {DOMAIN}:443:{outside.HOST4} -w '%{{http_code}}\\n'"
    if burst:
        targets = " ".join([f"-o /dev/null {url}"] * count)
        command = f"{common} -Z --parallel-immediate --parallel-max 30 {options} {targets}"
    else:
        command = f"for i in $(seq {count}); do {common} {options} -o /dev/null {url}; done"
    out = outside.run(host, command)
    assert out.rc == 0, out.stderr
    return [int(code) for code in out.stdout.split()]


def test_only_ssh_and_the_web_answer_strangers(host):
    with outside.listeners(host, CLOSED):
        found = outside.probe(host, WEB + CLOSED)
        # Each closed port has a listener that answers on loopback: the firewall closes it, not an empty port.
        with host.sudo():
            for port in CLOSED:
                assert host.run("curl -sf -o /dev/null http://127.0.0.1:%s/", str(port)).rc == 0, port
    for port in WEB:
        assert found[(outside.HOST4, port)] == "open", (port, found)
        # nginx listens on IPv6 only where the host had IPv6 when it was set up (Docker's network has
        # none): a refusal then comes from the host's kernel, past the firewall, which drops instead.
        assert found[(outside.HOST6, port)] in ("open", "refused"), (port, found)
    for address in (outside.HOST4, outside.HOST6):
        for port in CLOSED:
            assert found[(address, port)] == "timeout", (address, port, found)


def test_ssh_takes_keys_and_nothing_else(host):
    for address in (outside.HOST4, outside.HOST6):
        # The methods the server would go on with: one that took passwords would list them.
        refusal = outside.ssh_refusal(host, address, "root")
        assert "Permission denied (publickey)." in refusal, refusal


def test_a_burst_at_the_admin_login_gets_429_while_other_traffic_passes(host):
    login = statuses(
        host,
        20,
        "-X POST -d username=admin -d password=guess",
        f"https://{DOMAIN}/admin/login/",
        source=outside.CLIENT4,
        burst=True,
    )
    # One request at the rate plus a burst of 5 reach Django (403: no CSRF token); the rest are refused.
    assert sorted(set(login)) == [403, 429], login
    assert login.count(403) <= 7, login
    # Reading the login page, or the API, is never limited, even for the client that was refused.
    assert statuses(host, 15, f"https://{DOMAIN}/admin/login/", source=outside.CLIENT4) == [200] * 15
    assert statuses(host, 15, f"https://{DOMAIN}/api/portfolios/", source=outside.CLIENT4) == [200] * 15


def test_a_burst_of_writes_to_the_api_gets_429(host):
    writes = statuses(
        host,
        60,
        "-X POST -H 'Content-Type: application/json' -d '{}'",
        f"https://{DOMAIN}/api/portfolios/",
        source=outside.CLIENT4,
        burst=True,
    )
    # The first 21 (one at the rate, a burst of 20) reached the app, which refuses an empty portfolio.
    assert sorted(set(writes)) == [400, 429], writes
    assert writes.count(400) <= 25, writes


def test_the_app_and_gunicorn_see_the_clients_address(host):
    probe = secrets.token_hex(8)
    assert statuses(host, 1, f"'https://{DOMAIN}/api/portfolios/?probe={probe}'", source=outside.CLIENT4) == [
        200
    ]
    deadline = time.monotonic() + 10
    line = ""
    while time.monotonic() < deadline and not line:
        with host.sudo():
            log = host.check_output("journalctl -u %s.service --since -2min --no-pager -o cat", APP)
        line = next((entry for entry in log.splitlines() if probe in entry), "")
        time.sleep(0.5)
    assert line, f"no access log line for the request {probe}"
    assert line.startswith(f"{outside.CLIENT4} "), line


@pytest.mark.parametrize("unit", ["nginx.service", "postgresql", f"{APP}.service"])
def test_each_unit_is_sandboxed(host, unit):
    with host.sudo():
        if unit == "postgresql":
            (version,) = host.check_output("ls /etc/postgresql").split()
            unit = f"postgresql@{version}-main.service"
        out = host.check_output("systemd-analyze security %s", unit)
    exposure = float(re.search(r"Overall exposure level for \S+: ([0-9.]+)", out).group(1))
    print(f"\n[security] {unit}: exposure {exposure}")
    assert exposure <= EXPOSURE_LIMIT, out


def test_one_runaway_cannot_take_the_host(host):
    with host.sudo():
        (version,) = host.check_output("ls /etc/postgresql").split()
        limits = host.check_output("systemctl show %s.service -p MemoryMax -p TasksMax", APP)
        app_pid = host.check_output("systemctl show %s.service -p MainPID --value", APP).strip()
        pg_pid = host.check_output(
            "systemctl show postgresql@%s-main.service -p MainPID --value", version
        ).strip()
        app_score = int(host.file(f"/proc/{app_pid}/oom_score_adj").content_string)
        pg_score = int(host.file(f"/proc/{pg_pid}/oom_score_adj").content_string)
    assert "MemoryMax=infinity" not in limits, limits
    assert "TasksMax=infinity" not in limits, limits
    # Under memory pressure the kernel kills the app long before the database.
    assert app_score >= pg_score + 500, (app_score, pg_score)


def test_no_mail_server_runs(host):
    with host.sudo():
        assert not host.service("exim4").is_running
        assert not re.search(r":25\b", host.check_output("ss -Htln"))
