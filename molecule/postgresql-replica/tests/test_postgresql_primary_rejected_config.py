"""A configuration PostgreSQL rejects never stays: the run stops, naming the setting, and the files
are the previous ones again, so neither the running server nor its next restart (an upgrade, a
reboot) sees the bad value."""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))

from scenario import playbook, words

FILES = ("conf.d/onebox.conf", "pg_hba.conf")

testinfra_hosts = ["db"]


def test_a_setting_postgresql_rejects_is_put_back(host):
    with host.sudo():
        (version,) = host.check_output("ls /etc/postgresql").split()
        config = f"/etc/postgresql/{version}/main"
        before = {name: host.file(f"{config}/{name}").sha256sum for name in FILES}
    bad = '{"postgresql_extra_settings": {"wal_level": "bogus"}}'
    result = playbook("molecule/postgresql-replica/primary.yml", "-e", bad)
    out = words(result)
    assert result.returncode != 0, out[-3000:]
    assert "PostgreSQL rejects its new configuration" in out, out[-3000:]
    assert "wal_level" in out, out[-3000:]
    with host.sudo():
        assert {name: host.file(f"{config}/{name}").sha256sum for name in FILES} == before
        # No backup copies are left beside the files.
        assert "~" not in host.check_output("ls -a %s %s/conf.d", config, config)
        # The next restart starts cleanly on the files that are there.
        host.check_output("systemctl restart postgresql@%s-main", version)
        assert host.service(f"postgresql@{version}-main").is_running
        assert (
            host.check_output("runuser -u postgres -- psql -XAtc %s", "SHOW wal_level").strip() == "replica"
        )
        # The replica's stream broke with the restart: wait until it streams again, for the tests after.
        streaming = "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"
        deadline = time.monotonic() + 60
        while host.check_output("runuser -u postgres -- psql -XAtc %s", streaming).strip() != "1":
            assert time.monotonic() < deadline, "the replica did not stream again after the restart"
            time.sleep(0.5)
