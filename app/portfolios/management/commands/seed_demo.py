from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction

from portfolios.models import Holding, Portfolio

DEMO_PORTFOLIO = "Demo portfolio"
# symbol, quantity, cost basis of the whole position
DEMO_HOLDINGS = [
    ("AAPL", Decimal(10), Decimal("1500.00")),
    ("MSFT", Decimal(5), Decimal("1600.00")),
    ("VWCE", Decimal("20.5"), Decimal("2050.00")),
]


class Command(BaseCommand):
    help = f"Create the {DEMO_PORTFOLIO!r} with a few holdings; leaves existing ones as they are."

    @transaction.atomic
    def handle(self, *args, **options):
        portfolio, _ = Portfolio.objects.get_or_create(name=DEMO_PORTFOLIO)
        created = [
            symbol
            for symbol, quantity, cost_basis in DEMO_HOLDINGS
            if Holding.objects.get_or_create(
                portfolio=portfolio,
                symbol=symbol,
                defaults={"quantity": quantity, "cost_basis": cost_basis},
            )[1]
        ]
        if created:
            self.stdout.write(f"{DEMO_PORTFOLIO}: added {', '.join(created)}.")
        else:
            self.stdout.write(f"{DEMO_PORTFOLIO}: already seeded.")
