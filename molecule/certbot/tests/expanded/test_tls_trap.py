"""The TLS trap: a host serving a certificate its trust store accepts must not have it replaced by
one from another ACME server (Let's Encrypt's staging, say) unless the run says so. Pebble's root
stands in for a public CA: the test adds it to the host's trust store for the check."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "shared"))

from scenario import playbook, words

DOMAIN = "onebox.test"
LIVE = f"/etc/letsencrypt/live/{DOMAIN}/cert.pem"
TRUSTED = "/usr/local/share/ca-certificates/onebox-test-pebble.crt"
OTHER_SERVER = '{"certbot_acme_server": "https://127.0.0.1:14000/other-dir"}'
# The check runs where site.yml runs every role's checks: first, before any change on the host.
CERTBOT_ONLY = '{"onebox_preflight_roles": ["certbot"]}'


def test_a_trusted_certificate_is_not_replaced_from_another_acme_server(host):
    with host.sudo():
        before = host.file(LIVE).sha256sum
        host.check_output("cp /etc/pebble/issuer-root.pem %s && update-ca-certificates", TRUSTED)
    try:
        result = playbook("playbooks/preflight.yml", "-e", OTHER_SERVER, "-e", CERTBOT_ONLY)
    finally:
        with host.sudo():
            host.check_output("rm -f %s && update-ca-certificates --fresh", TRUSTED)
    out = words(result)
    assert result.returncode != 0, out[-3000:]
    assert "certbot_force_server_change" in out, out[-3000:]
    assert "changed=0" in out, out[-3000:]
    with host.sudo():
        assert host.file(LIVE).sha256sum == before


def test_an_untrusted_certificate_may_be_replaced(host):
    """The same switch on a host whose certificate nothing trusts (a test or staging one) is not
    refused by the check: the run gets to the ACME server (which then fails: there is no such one)."""
    result = playbook("molecule/certbot/converge.yml", "-e", OTHER_SERVER)
    out = words(result)
    assert "certbot_force_server_change" not in out, out[-3000:]
    assert "Obtain the certificate from the ACME server" in out, out[-3000:]
