import os
from decimal import Decimal

import pytest
from django.db import connection

from config import celery_app
from portfolios.models import Holding, Portfolio


def pytest_report_header():
    settings = connection.settings_dict
    where = f"host {settings['HOST']}" if connection.vendor == "postgresql" else "in memory"
    return f"database: {connection.vendor} ({where})"


def pytest_collection_modifyitems(items):
    if os.environ.get("CELERY_BROKER_URL") and os.environ.get("DJANGO_CACHE_URL"):
        return
    skip = pytest.mark.skip(reason="needs CELERY_BROKER_URL and DJANGO_CACHE_URL (scripts/test-app.sh)")
    for item in items:
        if item.get_closest_marker("broker"):
            item.add_marker(skip)


@pytest.fixture
def portfolio(db):
    """A portfolio holding 10 AAPL for 1500.00 and 2.5 VWCE for 250.25."""
    portfolio = Portfolio.objects.create(name="Retirement")
    Holding.objects.create(
        portfolio=portfolio, symbol="AAPL", quantity=Decimal(10), cost_basis=Decimal("1500.00")
    )
    Holding.objects.create(
        portfolio=portfolio, symbol="VWCE", quantity=Decimal("2.5"), cost_basis=Decimal("250.25")
    )
    return portfolio


@pytest.fixture(autouse=True)
def tasks_run_inline(request):
    """Tasks run inline (as without a broker), except in the tests marked broker.

    The PostgreSQL test run configures a real broker (CELERY_BROKER_URL) for those.
    """
    if request.node.get_closest_marker("broker"):
        yield
        return
    conf = celery_app.conf
    before = conf.task_always_eager
    conf.task_always_eager = True
    yield
    conf.task_always_eager = before
