"""A restarted host comes back serving with no manual step. This module's name sorts last on
purpose: a restart also restarts Pebble (a new root) and regenerates the container's /etc/hosts,
which the renewal test relies on."""

import subprocess
import time

from conftest import APP, Site


def test_a_restarted_host_serves_the_site_again_on_its_own(host, site):
    container = host.backend.get_hostname()
    subprocess.run(["docker", "restart", "--time", "30", container], check=True, timeout=120)
    deadline = time.monotonic() + 120
    last = None
    while time.monotonic() < deadline:
        try:
            # The address may change with the restart; the served certificate does not.
            address = host.check_output("hostname -I").split()[0]
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
