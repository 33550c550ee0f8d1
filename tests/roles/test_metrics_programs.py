"""The host-side programs behind the metrics: the app's request metrics and their exporter
(roles/django/files/runtime/onebox_metrics.py, with the real prometheus_client in multiprocess mode,
in real processes), and the textfile metrics of the backup check (roles/backup/files/backup_freshness.py)."""

import importlib.util
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ROOT / "roles" / "django" / "files" / "runtime"
FRESHNESS = ROOT / "roles" / "backup" / "files" / "backup_freshness.py"


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def samples(text: str) -> dict:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


# ---------------------------------------------------------------------------------------------
# onebox_metrics: what gunicorn's workers record, summed by the exporter

WORKER = """
import os, sys
sys.path.insert(0, {runtime!r})
os.environ["PROMETHEUS_MULTIPROC_DIR"] = sys.argv[1]
import onebox_metrics
for _ in range(int(sys.argv[2])):
    onebox_metrics.record(sys.argv[3], "portfolio-list", 200, 0.02)
onebox_metrics.record("BREW", "<unmatched>", 404, 0.001)
"""


def worker(folder: Path, count: int, method="GET"):
    """A process that records like a gunicorn worker, into its master's folder."""
    code = WORKER.format(runtime=str(RUNTIME))
    subprocess.run([sys.executable, "-c", code, str(folder), str(count), method], check=True)


def scrape(directory: Path) -> dict:
    metrics = load(RUNTIME / "onebox_metrics.py")
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(metrics.FoldersCollector(str(directory)))
    return samples(generate_latest(registry).decode())


def responses(found: dict, method="GET", status="200") -> float:
    key = (
        "django_http_responses_total",
        (("method", method), ("status", status), ("view", "portfolio-list")),
    )
    return found.get(key, 0)


def test_the_exporter_adds_up_every_worker_of_every_live_master(tmp_path):
    # Two masters alive (this process and its parent: the service and a deploy's handover).
    live = [os.getpid(), os.getppid()]
    for pid, counts in zip(live, ([3, 4], [5]), strict=True):
        folder = tmp_path / str(pid)
        folder.mkdir()
        for count in counts:
            worker(folder, count)
    found = scrape(tmp_path)
    assert responses(found) == 12
    # The latency histogram by view, every observation counted.
    count = ("django_http_request_duration_seconds_count", (("method", "GET"), ("view", "portfolio-list")))
    assert found[count] == 12
    # A method outside the known ones is one label, never the client's word.
    other = ("django_http_responses_total", (("method", "other"), ("status", "404"), ("view", "<unmatched>")))
    assert found[other] == 3


def test_a_master_that_exited_leaves_nothing_behind(tmp_path):
    # A real process that has exited: its pid names the folder of a master that is gone.
    gone = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(0,))
    gone.start()
    gone.join()
    (tmp_path / str(gone.pid)).mkdir()
    worker(tmp_path / str(gone.pid), 7)
    (tmp_path / str(os.getpid())).mkdir()
    worker(tmp_path / str(os.getpid()), 2)

    found = scrape(tmp_path)

    assert responses(found) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [str(os.getpid())]


def test_the_view_label_is_the_url_patterns_name_or_unmatched():
    metrics = load(RUNTIME / "onebox_metrics.py")

    class Match:
        view_name = "api:portfolio-list"

    class Request:
        resolver_match = Match()

    assert metrics.view_name(Request()) == "api:portfolio-list"
    Request.resolver_match = None
    assert metrics.view_name(Request()) == "<unmatched>"


# ---------------------------------------------------------------------------------------------
# backup_freshness --textfile: what the backup alerts read

NOW = 1_800_000_000.0
STANZA = {
    "name": "portfolio",
    "status": {"code": 0},
    "backup": [
        {"label": "F1", "type": "full", "timestamp": {"stop": NOW - 3 * 86400}},
        {"label": "D1", "type": "diff", "timestamp": {"stop": NOW - 3600}},
        {"label": "D2", "type": "diff", "timestamp": {"stop": NOW - 60}, "error": True},
    ],
}
LIMITS = {"full": 7 * 86400, "any": 36 * 3600, "silence": 3 * 3600}


def test_the_backup_metrics_give_the_newest_good_backup_of_each_kind_and_its_limit():
    freshness = load(FRESHNESS)
    archiver = {"last_archived": NOW - 30, "last_failed": NOW - 600}
    found = samples(freshness.metrics("portfolio", STANZA, archiver, LIMITS, NOW))

    def value(name, **labels):
        return found[(name, tuple(sorted({"stanza": "portfolio", **labels}.items())))]

    assert value("onebox_backup_repository_ok") == 1
    assert value("onebox_backup_last_good_timestamp_seconds", kind="full") == NOW - 3 * 86400
    # The newest *good* backup: D2 failed.
    assert value("onebox_backup_last_good_timestamp_seconds", kind="any") == NOW - 3600
    assert value("onebox_backup_max_age_seconds", kind="any") == 36 * 3600
    assert value("onebox_backup_check_timestamp_seconds") == NOW
    assert value("onebox_backup_check_max_silence_seconds") == 3 * 3600
    # It failed once, then archived again: not failing.
    assert value("onebox_wal_archive_failing") == 0
    assert value("onebox_wal_archive_last_success_timestamp_seconds") == NOW - 30


def test_an_unreadable_repository_and_failing_archiving_say_so_without_guessing():
    freshness = load(FRESHNESS)
    archiver = {"last_archived": NOW - 600, "last_failed": NOW - 30}
    found = samples(freshness.metrics("portfolio", None, archiver, LIMITS, NOW))
    names = {name for name, _ in found}
    assert found[("onebox_backup_repository_ok", (("stanza", "portfolio"),))] == 0
    # No backup age is made up when the repository could not be read.
    assert "onebox_backup_last_good_timestamp_seconds" not in names
    assert found[("onebox_wal_archive_failing", (("stanza", "portfolio"),))] == 1


def test_a_stanza_listed_with_an_error_is_unreadable_and_its_backups_count_as_none():
    """What pgbackrest info says when it cannot read the repository (permissions, storage gone)."""
    freshness = load(FRESHNESS)
    broken = {"name": "portfolio", "status": {"code": 99, "message": "other"}, "backup": []}
    found = samples(freshness.metrics("portfolio", broken, None, LIMITS, NOW))
    assert found[("onebox_backup_repository_ok", (("stanza", "portfolio"),))] == 0
    key = ("onebox_backup_last_good_timestamp_seconds", (("kind", "full"), ("stanza", "portfolio")))
    assert found[key] == 0


def test_the_textfile_is_replaced_whole(tmp_path):
    freshness = load(FRESHNESS)
    target = tmp_path / "backup-portfolio.prom"
    target.write_text("old\n")
    freshness.write_atomically(str(target), "onebox_backup_repository_ok 1\n")
    assert target.read_text() == "onebox_backup_repository_ok 1\n"
    assert oct(target.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


@pytest.mark.parametrize("stanza", [STANZA, {"name": "portfolio", "status": {"code": 0}, "backup": []}])
def test_the_metrics_are_valid_prometheus_text(stanza):
    freshness = load(FRESHNESS)
    text = freshness.metrics("portfolio", stanza, None, LIMITS, NOW)
    names = {family.name for family in text_string_to_metric_families(text)}
    assert {"onebox_backup_repository_ok", "onebox_backup_max_age_seconds", "onebox_wal_archive_ok"} <= names
