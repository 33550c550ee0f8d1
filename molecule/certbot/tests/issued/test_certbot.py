"""The certbot role after one converge and an idempotent second one, against Pebble on the host.

The renewal tests run the exact command from /etc/cron.d/certbot-renew; the failed-renewal test
stops Pebble. The tests run in file order and leave the host as they found it (a certificate from
the running Pebble, served by nginx), so verify can run again.
"""

import json
import re
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "shared"))

from renewal import CRON_FILE, cron_jobs, renew_command, run_renewal

DOMAIN = "onebox.test"
LIVE = f"/etc/letsencrypt/live/{DOMAIN}"
ISSUER_ROOT = "/etc/pebble/issuer-root.pem"
LISTENER_CA = "/etc/pebble/listener-ca.pem"
HOOK = "/etc/letsencrypt/renewal-hooks/deploy/onebox-reload-nginx"

# Runs on the host: a TLS handshake with nginx on 443 that verifies the chain against one CA file
# only (not the system store) and checks the name, then reports what nginx served.
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
    "issuer": dict(item for rdn in cert["issuer"] for item in rdn),
}))
"""


def served(host, name=DOMAIN, cafile=ISSUER_ROOT):
    return json.loads(host.check_output("python3 -c %s %s %s", PROBE, name, cafile))


def live_serial(host):
    out = host.check_output("openssl x509 -in %s -noout -serial", f"{LIVE}/cert.pem")
    return out.split("=", 1)[1].strip().upper()


def journal_cursor(host):
    out = host.check_output("journalctl --show-cursor -n 0 --quiet")
    return out.split("cursor:", 1)[1].strip()


def journal_after(host, cursor, *, priority=7, expect):
    """certbot-renew's journal messages after the cursor at `priority` or more urgent, waiting briefly
    for journald to take in what was written. (journalctl's own -t/-p matches combined with
    --after-cursor can skip entries, so the filtering is done here.)"""
    for _ in range(20):
        out = host.check_output("journalctl --no-pager -o json --after-cursor=%s", cursor)
        entries = [json.loads(line) for line in out.splitlines() if line.strip()]
        messages = [
            entry["MESSAGE"]
            for entry in entries
            if entry.get("SYSLOG_IDENTIFIER") == "certbot-renew"
            and int(entry.get("PRIORITY", 6)) <= priority
            and isinstance(entry.get("MESSAGE"), str)
        ]
        text = "\n".join(messages)
        if expect in text:
            return text
        time.sleep(0.5)
    return text


def nginx_master_pid(host):
    return host.check_output("systemctl show --property MainPID --value nginx")


def test_https_serves_a_pebble_certificate_for_the_domain(host):
    cert = served(host)
    assert cert["names"] == [DOMAIN]
    assert cert["issuer"]["commonName"].startswith("Pebble Intermediate CA")
    assert cert["serial"] == live_serial(host)


def test_the_chain_does_not_verify_against_another_ca(host):
    """The probe really verifies: the listener's CA did not issue the site's certificate."""
    result = host.run("python3 -c %s %s %s", PROBE, DOMAIN, LISTENER_CA)
    assert result.rc != 0
    assert "CERTIFICATE_VERIFY_FAILED" in result.stderr


def test_the_certificate_has_an_ecdsa_key(host):
    out = host.check_output("openssl x509 -in %s -noout -text", f"{LIVE}/cert.pem")
    assert "id-ecPublicKey" in out
    assert "prime256v1" in out or "P-256" in out


def test_certbot_talks_to_pebble_through_the_webroot(host):
    conf = host.file(f"/etc/letsencrypt/renewal/{DOMAIN}.conf").content_string
    assert re.search(r"^server = https://127\.0\.0\.1:14000/dir$", conf, re.M), conf
    assert re.search(r"^authenticator = webroot$", conf, re.M), conf
    assert re.search(r"^webroot_path = /var/www/acme,?$", conf, re.M), conf


def test_the_converges_asked_the_acme_server_once(host):
    """Converge issued the certificate; the idempotent second converge made no certbot call."""
    log = host.file("/var/log/letsencrypt/letsencrypt.log").content_string
    role_calls = [line for line in log.splitlines() if "Arguments:" in line and "'--cert-name'" in line]
    assert len(role_calls) == 1, role_calls


def test_exactly_one_renewal_scheduler(host):
    jobs = cron_jobs(host)
    assert len(jobs) == 1, jobs
    minute, hour, dom, month, dow, user, command = jobs[0].split(None, 6)
    assert (minute, hour, dom, month, dow, user) == ("0", "*/12", "*", "*", "*", "root")
    assert re.match(r"sleep \$\(shuf -i 0-3600 -n 1\) && ", command), command
    assert re.search(r"\bcertbot .*\brenew\b", command), command
    # cron turns an unescaped % into a newline; the command must not contain one.
    assert "%" not in command
    cron_file = host.file(CRON_FILE)
    assert cron_file.user == "root"
    assert cron_file.mode == 0o644

    assert not host.file("/etc/cron.d/certbot").exists
    assert host.run("systemctl is-enabled certbot.timer").stdout.strip() == "masked"
    assert not host.service("certbot.timer").is_running
    timers = host.check_output("systemctl list-timers --all --no-legend")
    assert "certbot" not in timers
    # Nothing else on the host schedules certbot.
    places = "/etc/crontab /etc/cron.d /etc/cron.hourly /etc/cron.daily /etc/cron.weekly /var/spool/cron"
    elsewhere = host.run("grep -rls certbot " + places)
    assert elsewhere.stdout.split() == [CRON_FILE]
    assert host.service("cron").is_running


def test_the_renewal_uses_pebble_ca_bundle_and_logs_to_the_journal(host):
    command = renew_command(host)
    assert command.startswith(f"REQUESTS_CA_BUNDLE={LISTENER_CA} systemd-cat ")
    assert "--stderr-priority=err" in command
    assert "--identifier=certbot-renew" in command


def test_the_deploy_hook_tests_and_reloads_nginx(host):
    hook = host.file(HOOK)
    assert hook.user == "root"
    assert hook.mode == 0o755
    assert "nginx -t" in hook.content_string
    assert "systemctl reload nginx" in hook.content_string


def test_the_cron_command_renews_and_nginx_serves_the_new_certificate(host):
    before = served(host)
    master = nginx_master_pid(host)
    cursor = journal_cursor(host)

    result = run_renewal(host, "--force-renewal")

    assert result.rc == 0, result.stdout + result.stderr
    after = served(host)
    assert after["serial"] != before["serial"]
    assert after["serial"] == live_serial(host)
    assert after["names"] == [DOMAIN]
    # Reloaded, not restarted: the same master process serves the new certificate.
    assert nginx_master_pid(host) == master
    log = journal_after(host, cursor, expect="nginx reloaded")
    assert f"new certificate in {LIVE}; nginx reloaded" in log


def test_a_failed_renewal_says_so_and_keeps_the_certificate_served(host):
    before = served(host)
    live_before = live_serial(host)
    cursor = journal_cursor(host)
    host.check_output("systemctl stop pebble")
    try:
        result = run_renewal(host, "--force-renewal")

        assert result.rc != 0
        errors = journal_after(host, cursor, priority=3, expect="Failed to renew")
        assert f"Failed to renew certificate {DOMAIN}" in errors
        assert served(host)["serial"] == before["serial"]
        assert live_serial(host) == live_before
        assert host.service("nginx").is_running
    finally:
        # Pebble comes back with a new root and no accounts: its after-start script writes the root
        # to ISSUER_ROOT and registers certbot again. A renewal then puts a certificate from the new
        # root in place, so later checks (and the side effect's expansion) work as before.
        host.check_output("systemctl start pebble")
        restored = run_renewal(host, "--force-renewal")
    assert restored.rc == 0, restored.stdout + restored.stderr
    assert served(host)["serial"] == live_serial(host)


@pytest.mark.parametrize("port", [14000, 15000])
def test_pebble_listens_on_loopback_only(host, port):
    assert host.socket(f"tcp://127.0.0.1:{port}").is_listening
    assert not host.socket(f"tcp://0.0.0.0:{port}").is_listening
