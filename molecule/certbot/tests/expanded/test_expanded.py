"""After the side effect: www.onebox.test was added to the inventory and the site converged twice."""

import json

import pytest

DOMAIN = "onebox.test"
ALIAS = "www.onebox.test"
ISSUER_ROOT = "/etc/pebble/issuer-root.pem"

# Runs on the host: a TLS handshake with nginx on 443, verified against Pebble's root only.
PROBE = """
import json, socket, ssl, sys
name, cafile = sys.argv[1], sys.argv[2]
ctx = ssl.create_default_context(cafile=cafile)
with socket.create_connection(("127.0.0.1", 443), timeout=10) as raw:
    with ctx.wrap_socket(raw, server_hostname=name) as tls:
        cert = tls.getpeercert()
print(json.dumps({
    "serial": cert["serialNumber"].upper(),
    "names": sorted(value for kind, value in cert["subjectAltName"] if kind == "DNS"),
}))
"""


def served(host, name):
    return json.loads(host.check_output("python3 -c %s %s %s", PROBE, name, ISSUER_ROOT))


@pytest.mark.parametrize("name", [DOMAIN, ALIAS])
def test_the_served_certificate_has_both_names(host, name):
    assert served(host, name)["names"] == [DOMAIN, ALIAS]


def test_the_certificate_was_expanded_in_place(host):
    """Same lineage, so nginx's paths still hold; no onebox.test-0001 beside it."""
    assert sorted(host.check_output("ls /etc/letsencrypt/live").split()) == sorted(["README", DOMAIN])
    cert = f"/etc/letsencrypt/live/{DOMAIN}/cert.pem"
    out = host.check_output("openssl x509 -in %s -noout -ext subjectAltName", cert)
    names = sorted(part.strip() for part in out.splitlines()[1].split(","))
    assert names == [f"DNS:{DOMAIN}", f"DNS:{ALIAS}"]
    served_serial = served(host, DOMAIN)["serial"]
    live = host.check_output("openssl x509 -in %s -noout -serial", cert)
    assert served_serial == live.split("=", 1)[1].strip().upper()


def test_only_the_expansion_asked_the_acme_server(host):
    """The first converge issued, the alias converge expanded, the one after it made no certbot call."""
    log = host.file("/var/log/letsencrypt/letsencrypt.log").content_string
    role_calls = [line for line in log.splitlines() if "Arguments:" in line and "'--cert-name'" in line]
    assert len(role_calls) == 2, role_calls
    assert f"'--domain={ALIAS}'" in role_calls[1]
    assert f"'--domain={ALIAS}'" not in role_calls[0]


def test_pebble_validates_the_alias_through_hosts(host):
    assert host.check_output("getent hosts %s", ALIAS).split()[0] == "127.0.0.1"
