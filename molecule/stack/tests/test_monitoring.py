"""Metrics and alerts, for real: each alert is made to fire by breaking what it watches (PostgreSQL
stopped, a unit failed, the backup repository unreadable and WAL archiving with it, a certificate
close to expiry, a renewal that failed, a full filesystem, the app answering 500, an exporter gone),
reaches the webhook receiver on the host (molecule/shared/alert-sink.yml) with its name, and
resolves there once the cause is fixed. The local inventory (which this scenario uses) paces
Prometheus and Alertmanager in seconds for this (inventory/local/group_vars/all/monitoring.yml).

The alert cases are shared out between the distros the matrix runs this scenario on (each case runs
on one of them); everything else runs on both."""

import json
import re
import shlex
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import outside
import pytest
from conftest import APP, DOMAIN

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "molecule" / "shared"))

from renewal import run_renewal  # noqa: E402
from scenario import distro_share, playbook, wait_until, words  # noqa: E402

SINK = "/var/lib/onebox-alert-sink/alerts.jsonl"
PROMETHEUS = "http://127.0.0.1:9090"
ALERTMANAGER = "http://127.0.0.1:9093"
METRICS_DIR = f"/run/{APP}-metrics"
PROBES = "/etc/prometheus/onebox-probes"
REPOSITORY = "/var/lib/pgbackrest"
# The ports the monitoring stack uses (Alertmanager's cluster port 9094 must not be open at all).
MONITORING_PORTS = (9090, 9093, 9094, 9100, 9113, 9115, 9187, 9200, 8089)
JOBS = {"prometheus", "alertmanager", "node", "postgresql", "nginx", "blackbox", "app", "site"}


def sudo(host, command, *args):
    with host.sudo():
        return host.run(command, *args)


def query(host, expr: str) -> list[dict]:
    out = sudo(host, "curl -sf %s/api/v1/query --data-urlencode %s", PROMETHEUS, f"query={expr}")
    assert out.rc == 0, out.stderr
    return json.loads(out.stdout)["data"]["result"]


class Sink:
    """The notifications the webhook receiver kept, from the moment this was made."""

    def __init__(self, host):
        self.host = host
        self.start = self.count()

    def lines(self) -> list[str]:
        out = sudo(self.host, "cat %s", SINK)
        return out.stdout.splitlines() if out.rc == 0 else []

    def count(self) -> int:
        return len(self.lines())

    def alerts(self) -> list[dict]:
        """Every alert of every notification since; a line the sink is still writing waits."""
        found = []
        for line in self.lines()[self.start :]:
            try:
                found += json.loads(line)["alerts"]
            except ValueError:
                break
        return found

    def wait(self, alertname: str, status: str, timeout=90, **labels) -> dict:
        def found():
            for alert in self.alerts():
                seen = alert["labels"]
                wanted = all(re.fullmatch(value, seen.get(key, "")) for key, value in labels.items())
                if seen["alertname"] == alertname and alert["status"] == status and wanted:
                    return alert
            return None

        return wait_until(f"{alertname} {status} {labels or ''} at the receiver", found, timeout=timeout)

    def quiet(self, *alerts: tuple[str, dict], timeout=120):
        """Wait until Alertmanager holds none of these alerts (name, labels) active, then count the
        receiver's notifications from there. An alert already firing (and notified) when a case
        breaks its cause again changes nothing in its group, so nothing new would be sent before
        the repeat interval: each case starts from its alerts resolved."""

        def active() -> list[dict]:
            out = sudo(self.host, "curl -sf %s/api/v2/alerts?active=true", ALERTMANAGER)
            assert out.rc == 0, out.stderr
            return json.loads(out.stdout)

        def matches(alert, name, labels):
            seen = alert["labels"]
            return seen["alertname"] == name and all(seen.get(k) == v for k, v in labels.items())

        def none_active():
            found = active()
            return not any(matches(a, name, labels) for a in found for name, labels in alerts) or None

        wait_until(f"none of {alerts} active in Alertmanager", none_active, timeout=timeout)
        self.start = self.count()

    def fires_and_resolves(self, alertname, breaking, fixing, timeout=90, **labels):
        """Break, see the alert fire (with its runbook), fix, see it resolve."""
        try:
            breaking()
            alert = self.wait(alertname, "firing", timeout=timeout, **labels)
            assert alert["annotations"].get("runbook"), alert
        finally:
            fixing()
        self.wait(alertname, "resolved", timeout=timeout, **labels)
        return alert


# ---------------------------------------------------------------------------------------------
# Prometheus and its targets


def test_prometheus_scrapes_every_target(host):
    def all_up():
        found = {(s["metric"]["job"], s["metric"]["instance"]): s["value"][1] for s in query(host, "up")}
        jobs = {job for job, _ in found}
        return found if jobs == JOBS and set(found.values()) == {"1"} else None

    found = wait_until("every target up", all_up, timeout=60)
    # The site's probes: its pages answer 2xx over HTTPS with a certificate the probe trusts.
    probes = {s["metric"]["instance"]: s["value"][1] for s in query(host, "probe_success")}
    assert probes[f"https://{DOMAIN}/"] == "1", probes
    assert probes[f"https://{DOMAIN}/health/"] == "1", probes
    expiry = query(host, f'probe_ssl_earliest_cert_expiry{{instance="{DOMAIN}:443"}} - time()')
    assert float(expiry[0]["value"][1]) > 21 * 86400, expiry
    # onebox's own facts arrived: the backups (a full one exists since the first converge) and WAL.
    assert query(host, "onebox_backup_repository_ok")[0]["value"][1] == "1"
    assert query(host, 'onebox_backup_last_good_timestamp_seconds{kind="full"} > 0'), found
    assert query(host, "onebox_wal_archive_failing")[0]["value"][1] == "0"
    assert query(host, 'node_systemd_unit_state{name="nginx.service", state="active"}')[0]["value"][1] == "1"
    # onebox's replication queries answer on this distro's exporter too: a lone primary, no standby,
    # no slot (the postgresql-replica scenario watches a real stream).
    assert query(host, "onebox_pg_standby_in_recovery")[0]["value"][1] == "0"
    assert query(host, "onebox_pg_standby_streaming")[0]["value"][1] == "0"
    assert query(host, "onebox_pg_slot_active") == []


def test_every_rule_is_loaded_with_a_runbook(host):
    out = sudo(host, "curl -sf %s/api/v1/rules", PROMETHEUS)
    rules = [rule for group in json.loads(out.stdout)["data"]["groups"] for rule in group["rules"]]
    names = {rule["name"] for rule in rules}
    assert {"CertificateExpiresSoon", "BackupStale", "WalArchivingFailing", "UnitFailed"} <= names
    assert {"PostgreSQLDown", "AppErrors", "SiteUnreachable", "DiskAlmostFull", "TargetDown"} <= names
    assert {"ReplicaNotStreaming", "StandbyNotStreaming", "StandbyLagging"} <= names
    assert all(rule["health"] == "ok" for rule in rules), [r for r in rules if r["health"] != "ok"]
    assert all(rule["annotations"].get("runbook") for rule in rules), names


def test_nothing_of_it_listens_beyond_loopback(host):
    """Every listener of the host is on loopback, but SSH's and nginx's."""
    with host.sudo():
        listeners = host.check_output("ss -ltnpH")
    public = []
    for line in listeners.splitlines():
        local, process = line.split()[3], line.split()[-1]
        address = local.rsplit(":", 1)[0].strip("[]")
        if address in ("127.0.0.1", "::1") or address.startswith("127."):
            continue
        if any(f'"{name}"' in process for name in ("sshd", "nginx")):
            continue
        public.append(line)
    assert not public, public
    # And a stranger (a client outside the host) reaches none of the ports.
    found = outside.probe(host, MONITORING_PORTS, addresses=(outside.HOST4,))
    assert all(state != "open" for state in found.values()), found


def test_make_status_prints_one_table_of_what_matters(host):
    """`make status` (playbooks/status.yml): the live release, units, certificate, backups, disks and
    the alerts firing, read on the host."""
    with host.sudo():
        release = host.check_output("basename $(readlink /srv/%s/current)", APP)
    result = playbook("playbooks/status.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    out = words(result)
    assert f"app release {release}" in out, out
    assert f"{APP}.service active (running)" in out, out
    assert "prometheus-alertmanager.service active (running)" in out, out
    assert re.search(r"certificate expires \w+ +\d+ [\d:]+ \d{4} GMT \(in \d+d", out), out
    assert re.search(rf"newest full backup \({APP}\) \d+[mhd]", out), out
    assert f"WAL archiving ({APP}) ok" in out, out
    assert re.search(r"disk / \d+% used", out), out
    assert "alerts firing" in out or "FIRING" in out, out


# ---------------------------------------------------------------------------------------------
# The app's own metrics


def app_samples(host) -> dict[tuple, float]:
    out = sudo(host, "curl -sf http://127.0.0.1:9200/metrics")
    assert out.rc == 0, out.stderr
    samples = {}
    for line in out.stdout.splitlines():
        match = re.match(r"^django_http_responses_total\{(.*)\} (\S+)$", line)
        if match:
            labels = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', match.group(1))))
            samples[labels] = float(match.group(2))
    return samples


def test_the_apps_metrics_count_the_requests_of_every_worker(host, site):
    before = app_samples(host)
    count = 60
    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(lambda _: site.get("/api/portfolios/").status, range(count)))
    assert statuses == [200] * count

    def counted():
        after = app_samples(host)
        grown = {labels: after[labels] - before.get(labels, 0) for labels in after}
        return [(labels, n) for labels, n in grown.items() if n == count] or None

    ((labels, _),) = wait_until("the requests counted", counted, timeout=15)
    assert dict(labels)["method"] == "GET", labels
    assert dict(labels)["status"] == "200", labels
    # Each worker process writes its own file (prometheus_client's multiprocess mode): several
    # workers served these requests, and the exporter added them all up.
    with host.sudo():
        files = host.check_output("runuser -u %s -- find %s -name 'counter_*.db'", APP, METRICS_DIR).split()
    workers = {re.search(r"counter_(\d+)\.db", f).group(1) for f in files}
    assert len(workers) >= 2, files
    # The latency by view, in Prometheus too.
    view = dict(labels)["view"]
    wait_until(
        "the latency in Prometheus",
        lambda: query(host, f'django_http_request_duration_seconds_count{{view="{view}"}}'),
        timeout=15,
    )


# ---------------------------------------------------------------------------------------------
# Each alert, made to fire for real


def postgresql_stopped(host, site, sink):
    """PostgreSQL stops: it is down, and the app answers 500 to what needs the database."""

    def breaking():
        assert sudo(host, "systemctl stop postgresql").rc == 0
        time.sleep(1)
        statuses = [site.get("/api/portfolios/").status for _ in range(20)]
        assert set(statuses) == {500}, statuses

    def fixing():
        assert sudo(host, "systemctl start postgresql").rc == 0

    try:
        breaking()
        sink.wait("PostgreSQLDown", "firing")
        sink.wait("AppErrors", "firing")
    finally:
        fixing()
    wait_until("the API answers again", lambda: site.get("/api/portfolios/").status == 200, timeout=30)
    sink.wait("PostgreSQLDown", "resolved")
    sink.wait("AppErrors", "resolved", timeout=120)


def unit_failed(host, site, sink):
    unit = "onebox-test-broken.service"
    sink.fires_and_resolves(
        "UnitFailed",
        lambda: sudo(host, "systemd-run --unit=%s --property=Type=oneshot /bin/false", unit),
        lambda: sudo(host, "systemctl reset-failed %s", unit),
        name=unit,
    )


def backup_repository_broken(host, site, sink):
    """The repository cannot be read: the backup check says so, and WAL archiving fails with it."""
    mode = sudo(host, "stat -c %%a %s", REPOSITORY).stdout.strip()

    def postgres_sql(sql):
        out = sudo(host, "runuser -u postgres -- psql -AtXc %s", sql)
        assert out.rc == 0, out.stderr
        return out.stdout.strip()

    def failed_count():
        return int(postgres_sql("select failed_count from pg_stat_archiver"))

    def switch_wal():
        postgres_sql("create temp table t as select 1; select pg_switch_wal()")

    def archiving_again():
        sql = "select coalesce(last_archived_time > last_failed_time, true) from pg_stat_archiver"
        return postgres_sql(sql) == "t"

    def check_passes():
        out = sudo(host, "systemctl start %s", freshness)
        journal = sudo(host, "journalctl -u %s -n 6 --no-pager", freshness).stdout
        assert out.rc == 0, f"the backup check fails before the case breaks anything:\n{journal}"

    # The hourly timer runs the same check: if it ran during an earlier case (PostgreSQL stopped),
    # the unit is failed and its alert already notified, and failing it again would send nothing
    # new. Start from archiving that works, a good check, and none of this case's alerts active.
    freshness = "onebox-backup-freshness.service"
    switch_wal()
    wait_until("WAL archived", archiving_again, timeout=90)
    check_passes()
    sink.quiet(
        ("UnitFailed", {"name": freshness}),
        ("BackupRepositoryUnreadable", {}),
        ("BackupStale", {"kind": "full"}),
        ("WalArchivingFailing", {}),
    )
    failures = failed_count()
    try:
        assert sudo(host, "chmod 000 %s", REPOSITORY).rc == 0
        switch_wal()
        wait_until("an archive attempt failed", lambda: failed_count() > failures, timeout=60)
        # The hourly check, now: it fails (the unit too) and writes what it found.
        sudo(host, "systemctl start %s", freshness)
        sink.wait("BackupRepositoryUnreadable", "firing")
        # No good backup can be seen: stale as well.
        sink.wait("BackupStale", "firing", kind="full")
        sink.wait("WalArchivingFailing", "firing")
        sink.wait("UnitFailed", "firing", name=freshness)
    finally:
        sudo(host, "chmod %s %s", mode, REPOSITORY)
    switch_wal()
    wait_until("WAL archived again", archiving_again, timeout=90)
    check_passes()
    sink.wait("BackupRepositoryUnreadable", "resolved")
    sink.wait("BackupStale", "resolved", kind="full")
    sink.wait("WalArchivingFailing", "resolved")
    sink.wait("UnitFailed", "resolved", name=freshness)


def certificate_close_to_expiry(host, site, sink):
    """A TLS server whose certificate expires in 5 days, probed like the site (a file in the probes'
    folder): the alert names it."""
    unit, port, folder = "onebox-test-tls.service", 9443, "/run/onebox-test-tls"
    make = (
        f"mkdir -p {folder} && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 5"
        f" -subj /CN=expiring.test -keyout {folder}/key.pem -out {folder}/cert.pem"
    )
    probe = f"- targets: ['127.0.0.1:{port}']\n  labels: {{module: tls_expiry}}\n"

    def breaking():
        assert sudo(host, "sh -c %s", make).rc == 0
        serve = f"openssl s_server -quiet -accept 127.0.0.1:{port} -www"
        serve += f" -cert {folder}/cert.pem -key {folder}/key.pem"
        assert sudo(host, f"systemd-run --unit={unit} {serve}").rc == 0
        assert sudo(host, "sh -c %s", f"printf %s {shlex.quote(probe)} > {PROBES}/test-expiring.yml").rc == 0

    def fixing():
        sudo(host, "rm -f %s/test-expiring.yml", PROBES)
        sudo(host, "systemctl stop %s", unit)

    alert = sink.fires_and_resolves(
        "CertificateExpiresSoon", breaking, fixing, timeout=120, instance=f"127.0.0.1:{port}"
    )
    assert "expires in" in alert["annotations"]["summary"], alert


def renewal_failed(host, site, sink):
    """The renewal's cron command, with the ACME server out of reach: it fails, and says so as a
    metric; the certificate and its renewal settings stay as they were."""
    settings = f"/etc/letsencrypt/renewal/{DOMAIN}.conf"
    before = sudo(host, "cat %s", settings).stdout

    def breaking():
        result = run_renewal(host, "--force-renewal", "--server", "https://127.0.0.1:14001/dir")
        assert result.rc != 0, result.stdout

    def fixing():
        # Nothing is due: certbot renews nothing and succeeds.
        result = run_renewal(host)
        assert result.rc == 0, result.stderr

    sink.fires_and_resolves("CertificateRenewalFailed", breaking, fixing)
    assert sudo(host, "cat %s", settings).stdout == before


def filesystem_full(host, site, sink):
    # Not under /mnt or /media, which node exporter leaves out by default.
    mount = "/srv/onebox-test-full"

    def breaking():
        assert sudo(host, "mkdir -p %s && mount -t tmpfs -o size=1m tmpfs %s", mount, mount).rc == 0
        sudo(host, "dd if=/dev/zero of=%s/fill bs=64k count=100", mount)

    def fixing():
        sudo(host, "rm -f %s/fill", mount)

    try:
        sink.fires_and_resolves("DiskAlmostFull", breaking, fixing, mountpoint=mount)
    finally:
        sudo(host, "umount %s", mount)


def exporter_stopped(host, site, sink):
    service = "prometheus-nginx-exporter"
    sink.fires_and_resolves(
        "TargetDown",
        lambda: sudo(host, "systemctl stop %s", service),
        lambda: sudo(host, "systemctl start %s", service),
        job="nginx",
    )


CASES = {
    "postgresql stopped, the app answers 500": postgresql_stopped,
    "a unit failed": unit_failed,
    "the backup repository unreadable, WAL archiving failing": backup_repository_broken,
    "a certificate close to expiry": certificate_close_to_expiry,
    "the renewal failed": renewal_failed,
    "a filesystem full": filesystem_full,
    "an exporter stopped": exporter_stopped,
}


@pytest.mark.parametrize("case", distro_share(CASES))
def test_an_alert_fires_and_resolves_at_the_receiver(host, site, case):
    CASES[case](host, site, Sink(host))
