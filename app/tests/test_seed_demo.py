import pytest
from django.core.management import call_command

from portfolios.models import Holding, Portfolio

pytestmark = pytest.mark.django_db


def holdings():
    return sorted(Holding.objects.values_list("portfolio__name", "symbol", "quantity", "cost_basis"))


def test_seed_demo_creates_the_demo_portfolio():
    call_command("seed_demo", verbosity=0)

    assert list(Portfolio.objects.values_list("name", flat=True)) == ["Demo portfolio"]
    assert [symbol for _, symbol, _, _ in holdings()] == ["AAPL", "MSFT", "VWCE"]


def test_seed_demo_twice_changes_nothing(capsys):
    call_command("seed_demo")
    first = holdings()
    ids = sorted(Holding.objects.values_list("pk", flat=True))

    call_command("seed_demo")

    assert holdings() == first
    assert sorted(Holding.objects.values_list("pk", flat=True)) == ids
    assert capsys.readouterr().out.splitlines()[-1] == "Demo portfolio: already seeded."


def test_seed_demo_leaves_edited_holdings_alone():
    call_command("seed_demo", verbosity=0)
    Holding.objects.filter(symbol="AAPL").update(quantity=99)

    call_command("seed_demo", verbosity=0)

    assert Holding.objects.get(symbol="AAPL").quantity == 99
