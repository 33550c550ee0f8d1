"""Renewal as cron runs it: the exact command line from the cron file, with a forced renewal."""

import json

from conftest import DOMAIN, load_window
from renewal import run_renewal


def served_serial(site):
    return site.peer_certificate()["serialNumber"]


def test_the_cron_command_renews_and_nginx_serves_the_new_certificate_without_failing_a_request(
    site, host, tmp_path
):
    before = served_serial(site)
    with load_window(site, "certificate renewal", tmp=tmp_path) as load, host.sudo():
        result = run_renewal(host, "--force-renewal")
    assert result.rc == 0, result.stdout + result.stderr
    after = served_serial(site)
    assert after != before
    with host.sudo():
        live = host.check_output("openssl x509 -in /etc/letsencrypt/live/%s/cert.pem -noout -serial", DOMAIN)
    assert live.split("=", 1)[1].strip().upper() == after.upper()
    assert load["failed"] == 0, json.dumps(load)
    assert load["ok"] > 0
