"""The tasks through the real broker: a Celery worker in this process consumes from the Redis of
CELERY_BROKER_URL (scripts/test-app.sh's PostgreSQL run starts one), as the deployed worker does.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from decimal import Decimal

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections

from config import celery_app
from portfolios import tasks
from portfolios.models import Holding, HoldingImport, Portfolio, PortfolioSummary
from tests.production_env import APP_DIR

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]

GOOD_CSV = b"symbol,quantity,cost_basis\nAAPL,10,1500.00\nMSFT,2.5,800\nVWCE,4,420.10\n"


def wait_for(what, predicate, timeout=30.0):
    """Poll until predicate() is true; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)
    return value


def _close_connections(**kwargs):
    # The worker thread's own database connections, which would otherwise outlive the test.
    connections.close_all()


@pytest.fixture
def broker(settings, tmp_path):
    """An empty queue on the real broker; worker() starts a worker consuming from it."""
    assert not celery_app.conf.task_always_eager
    settings.MEDIA_ROOT = tmp_path / "media"
    celery_app.control.purge()
    hijack = celery_app.conf.worker_hijack_root_logger
    celery_app.conf.worker_hijack_root_logger = False
    task_postrun.connect(_close_connections)
    yield
    task_postrun.disconnect(_close_connections)
    celery_app.conf.worker_hijack_root_logger = hijack
    celery_app.control.purge()


@contextmanager
def worker():
    with start_worker(
        celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30, loglevel="WARNING"
    ) as started:
        yield started


def post_import(client, portfolio, content):
    response = client.post(
        f"/api/portfolios/{portfolio.pk}/import/", {"file": SimpleUploadedFile("h.csv", content)}
    )
    assert response.status_code == 202, response.content
    return response.json()


def finished(import_id):
    record = HoldingImport.objects.get(pk=import_id)
    return record if record.status in ("done", "failed") else None


def test_import_is_queued_on_the_broker_then_done_by_the_worker(broker, client):
    portfolio = Portfolio.objects.create(name="Queued")

    body = post_import(client, portfolio, GOOD_CSV)

    assert body["status"] == "queued"
    assert client.get(body["url"]).json()["status"] == "queued"
    assert Holding.objects.count() == 0
    with worker():
        wait_for("the import to finish", lambda: finished(body["id"]))
    record = client.get(body["url"]).json()
    assert (record["status"], record["rows"], record["attempts"], record["error"]) == ("done", 3, 1, "")
    assert sorted(portfolio.holdings.values_list("symbol", flat=True)) == ["AAPL", "MSFT", "VWCE"]


def test_bad_row_is_queued_then_fails_with_its_message(broker, client):
    portfolio = Portfolio.objects.create(name="Bad row")

    body = post_import(client, portfolio, b"symbol,quantity,cost_basis\nAAPL,10,1500\nMSFT,-1,300\n")

    assert body["status"] == "queued"
    with worker():
        wait_for("the import to finish", lambda: finished(body["id"]))
    record = client.get(body["url"]).json()
    assert (record["status"], record["error"]) == ("failed", "line 3: quantity: Must be greater than zero.")
    assert (record["rows"], record["file"]) == (0, None)
    assert Holding.objects.count() == 0


def test_import_delivered_twice_imports_once(broker, client):
    portfolio = Portfolio.objects.create(name="Twice")
    body = post_import(client, portfolio, GOOD_CSV)
    # The same import's message a second time, as after a worker was killed before it acked.
    tasks.import_holdings.delay(body["id"])

    with worker():
        wait_for("both deliveries", lambda: HoldingImport.objects.get(pk=body["id"]).attempts == 2)
        wait_for("the import to finish", lambda: finished(body["id"]))

    record = HoldingImport.objects.get(pk=body["id"])
    assert (record.status, record.rows, record.attempts) == ("done", 3, 2)
    assert portfolio.holdings.count() == 3


def test_summary_task_through_the_broker_writes_a_summary(broker, portfolio):
    with worker():
        tasks.summarize.delay()
        summary = wait_for("a summary", PortfolioSummary.objects.first)

    assert (summary.portfolios, summary.holdings, summary.total_cost_basis) == (1, 2, Decimal("1750.25"))


def test_beat_sends_the_summary_task_on_its_schedule(broker, client, tmp_path):
    """celery beat as deployed (a process of its own), every second; the worker runs the task."""
    env = os.environ | {"PORTFOLIO_SUMMARY_EVERY": "1"}
    command = [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO"]
    command += ["--schedule", str(tmp_path / "beat-schedule"), "--pidfile="]
    with worker():
        beat = subprocess.Popen(
            command, cwd=APP_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        try:
            wait_for("two summaries from beat", lambda: PortfolioSummary.objects.count() >= 2)
        finally:
            beat.send_signal(signal.SIGTERM)
            output = beat.communicate(timeout=30)[0]
    assert "Sending due task portfolio-summary (portfolios.tasks.summarize)" in output
    assert client.get("/api/summaries/").json()[0]["portfolios"] == 0


def test_cache_is_the_real_redis():
    key = f"test-{uuid.uuid4().hex}"

    cache.set(key, {"answer": 42}, timeout=60)

    assert cache.get(key) == {"answer": 42}
    direct = redis.Redis.from_url(os.environ["DJANGO_CACHE_URL"])
    assert direct.exists(cache.make_key(key)) == 1
    cache.delete(key)
    assert direct.exists(cache.make_key(key)) == 0
