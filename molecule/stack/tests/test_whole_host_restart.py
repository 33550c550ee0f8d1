"""A restarted host comes back serving with no manual step, and renews its certificate. This
module's name sorts last on purpose: a restart also restarts Pebble (a new root), so the other
modules' clients, which trust the root read at their start, would refuse the renewed certificate."""

import subprocess
import time

from conftest import APP, DOMAIN, ISSUER_ROOT, Site
from renewal import run_renewal
from scenario import address as docker_address
from scenario import forget_facts


def test_a_restarted_host_serves_the_site_again_on_its_own(host, site):
    container = host.backend.get_hostname()
    subprocess.run(["docker", "restart", "--time", "30", container], check=True, timeout=120)
    forget_facts()
    deadline = time.monotonic() + 120
    last = None
    while time.monotonic() < deadline:
        try:
            # The address may change with the restart; the served certificate does not.
            address = docker_address(host)
            response = Site(address, site.cafile).get("/api/portfolios/", timeout=5)
            last = response.status
            if last == 200:
                break
        except Exception as error:  # the host is still booting
            last = repr(error)
        time.sleep(1)
    else:
        raise AssertionError(f"the site did not answer after the restart within 120 s; last: {last}")
    with host.sudo():
        (version,) = host.check_output("ls /etc/postgresql").split()
        units = (f"{APP}.socket", f"{APP}.service", "nginx.service", f"postgresql@{version}-main.service")
        for unit in (*units, "cron.service"):
            assert host.service(unit).is_running, unit


def test_after_a_restart_the_cron_renewal_still_gets_a_certificate(host, tmp_path):
    """Docker wrote a new /etc/hosts and Pebble started with a new root: the names Pebble
    validates must resolve again (pebble.service's ExecStartPre), and certbot's account is new."""
    with host.sudo():
        hosts = host.file("/etc/hosts").content_string
        result = run_renewal(host, "--force-renewal")
        root = host.file(ISSUER_ROOT).content_string
    assert f"127.0.0.1 {DOMAIN}" in hosts, hosts
    assert result.rc == 0, result.stdout + result.stderr
    cafile = tmp_path / "issuer-root.pem"
    cafile.write_text(root)
    address = docker_address(host)
    renewed = Site(address, cafile)
    # Only a certificate issued after the restart chains to the root Pebble has now.
    assert renewed.get("/api/portfolios/").status == 200
