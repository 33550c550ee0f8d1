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
    """A CSV file whose rows became holdings; kept as the record of what was imported."""

    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="imports")
    file = models.FileField(upload_to="imports/")
    rows = models.PositiveIntegerField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created",)

    def __str__(self):
        return f"{self.file.name} ({self.rows} rows)"
