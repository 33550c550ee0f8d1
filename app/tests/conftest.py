from decimal import Decimal

import pytest
from django.db import connection

from portfolios.models import Holding, Portfolio


def pytest_report_header():
    settings = connection.settings_dict
    where = f"host {settings['HOST']}" if connection.vendor == "postgresql" else "in memory"
    return f"database: {connection.vendor} ({where})"


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
