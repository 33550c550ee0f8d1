"""The background tasks, run by the Celery worker (inline when no broker is configured)."""

import logging
from decimal import Decimal

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Sum
from django.utils import timezone

from portfolios.csv_import import ImportRejected, parse, save_rows
from portfolios.models import Holding, HoldingImport, Portfolio, PortfolioSummary

logger = logging.getLogger(__name__)

FINISHED = (HoldingImport.Status.DONE, HoldingImport.Status.FAILED)
# How many deliveries of one import a worker may start: a worker killed mid-import (a deploy's
# SIGKILL, the OOM killer) leaves it to be delivered again, up to this many times in all.
MAX_ATTEMPTS = 3


@shared_task(acks_late=True, reject_on_worker_lost=True)
def import_holdings(import_id: int) -> str:
    """Import a queued HoldingImport's file: every row or none. Safe to run again.

    A worker killed mid-import leaves its message to be delivered again (acks_late); its
    transaction rolled back, so the next run starts afresh. A run for a finished import
    (one delivered again after it committed) does nothing.
    """
    # Committed on its own, before anything else: how many times a worker took this import on.
    if not HoldingImport.objects.filter(pk=import_id).update(attempts=F("attempts") + 1):
        logger.warning("import %s: no such import (deleted?); nothing to do", import_id)
        return "missing"
    unfinished = HoldingImport.objects.filter(pk=import_id).exclude(status__in=FINISHED)
    # A file that kills its worker (out of memory, say) is delivered again each time: not forever.
    if unfinished.filter(attempts__gt=MAX_ATTEMPTS).update(
        status=HoldingImport.Status.FAILED,
        error=f"The import stopped its worker {MAX_ATTEMPTS} times; it was given up.",
        finished=timezone.now(),
    ):
        logger.error("import %s: given up after %s attempts", import_id, MAX_ATTEMPTS)
        return HoldingImport.Status.FAILED
    if not unfinished.update(status=HoldingImport.Status.RUNNING):
        logger.info("import %s: already finished; not importing again", import_id)
        return "finished"
    try:
        with transaction.atomic():
            # Locked until the import commits: a second delivery running at the same time waits
            # here, then sees the import done.
            record = HoldingImport.objects.select_for_update().select_related("portfolio").get(pk=import_id)
            if record.status in FINISHED:
                return "finished"
            with record.file.open("rb") as stored:
                data = stored.read()
            record.rows = save_rows(record.portfolio, parse(data), settings.PORTFOLIO_IMPORT_PACE)
            record.status = HoldingImport.Status.DONE
            record.finished = timezone.now()
            record.save(update_fields=["rows", "status", "finished"])
    except ImportRejected as exc:
        record = HoldingImport.objects.get(pk=import_id)
        record.file.delete(save=False)
        record.status = HoldingImport.Status.FAILED
        record.error = str(exc)
        record.finished = timezone.now()
        record.save(update_fields=["file", "status", "error", "finished"])
        logger.info("import %s: rejected: %s", import_id, exc)
        return record.status
    except Exception:
        # Not the file's fault (the database went away, a bug): the error is in the worker's log.
        unfinished.update(
            status=HoldingImport.Status.FAILED,
            error="The import failed on the server; try again later.",
            finished=timezone.now(),
        )
        raise
    logger.info("import %s: %s holdings imported", import_id, record.rows)
    return record.status


@shared_task
def summarize() -> int:
    """Record the totals across every portfolio (run by beat; see CELERY_BEAT_SCHEDULE)."""
    totals = Holding.objects.aggregate(holdings=Count("id"), total_cost_basis=Sum("cost_basis"))
    summary = PortfolioSummary.objects.create(
        portfolios=Portfolio.objects.count(),
        holdings=totals["holdings"],
        total_cost_basis=totals["total_cost_basis"] or Decimal(0),
    )
    logger.info("summary %s: %s", summary.pk, summary)
    return summary.pk
