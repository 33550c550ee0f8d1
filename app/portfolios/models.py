"""Portfolios, their holdings, and the record of CSV imports."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models

symbol_validator = RegexValidator(
    r"\A[A-Z0-9][A-Z0-9.\-]*\Z",
    "A symbol is letters, digits, dots and dashes, starting with a letter or digit (e.g. BRK.B).",
)


def validate_positive(value):
    if value <= 0:
        raise ValidationError("Must be greater than zero.", code="not_positive")


class SymbolField(models.CharField):
    """A ticker symbol, cleaned to upper case however it was typed."""

    def to_python(self, value):
        value = super().to_python(value)
        return value.strip().upper() if value else value


class Portfolio(models.Model):
    name = models.CharField(max_length=100, unique=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name",)

    def __str__(self):
        return self.name


class Holding(models.Model):
    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="holdings")
    symbol = SymbolField(max_length=16, validators=[symbol_validator])
    quantity = models.DecimalField(max_digits=20, decimal_places=6, validators=[validate_positive])
    cost_basis = models.DecimalField(
        max_digits=16,
        decimal_places=2,
        validators=[MinValueValidator(Decimal(0))],
        help_text="What the whole position cost, not the price per unit.",
    )

    class Meta:
        ordering = ("symbol",)
        constraints = (
            models.UniqueConstraint(
                fields=["portfolio", "symbol"],
                name="holding_symbol_unique_per_portfolio",
                violation_error_message="This portfolio already holds this symbol.",
            ),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="holding_quantity_positive"),
            models.CheckConstraint(
                condition=models.Q(cost_basis__gte=0), name="holding_cost_basis_not_negative"
            ),
        )

    def __str__(self):
        return f"{self.quantity} {self.symbol}"

    @property
    def unit_cost(self) -> Decimal:
        return self.cost_basis / self.quantity


class HoldingImport(models.Model):
    """A CSV file to import into a portfolio, and how its import went.

    The API stores the file and queues portfolios.tasks.import_holdings, which creates the
    holdings (every row or none) and moves the record from queued to done or failed.
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="imports")
    # Emptied when the import fails: only imported files are kept.
    file = models.FileField(upload_to="imports/")
    # db_default: what an insert that names none of these gets (the release before the task queue,
    # while the migration's release is checked: its imports were synchronous, so done).
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED, db_default=Status.DONE
    )
    rows = models.PositiveIntegerField(default=0, help_text="Holdings created; 0 until done.")
    error = models.TextField(
        blank=True, default="", db_default="", help_text="Why the import failed: the line and the problem."
    )
    attempts = models.PositiveIntegerField(
        default=0,
        db_default=0,
        help_text="How many times a worker started the import (more than 1: redelivered).",
    )
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created", "-id")

    def __str__(self):
        return f"{self.file.name or 'import'} ({self.status}, {self.rows} rows)"


class PortfolioSummary(models.Model):
    """The totals across every portfolio at one moment, written by portfolios.tasks.summarize."""

    taken = models.DateTimeField(auto_now_add=True)
    portfolios = models.PositiveIntegerField()
    holdings = models.PositiveIntegerField()
    total_cost_basis = models.DecimalField(max_digits=20, decimal_places=2)

    class Meta:
        ordering = ("-taken", "-id")
        verbose_name_plural = "portfolio summaries"

    def __str__(self):
        return f"{self.taken:%Y-%m-%d %H:%M}: {self.portfolios} portfolios, {self.holdings} holdings"
