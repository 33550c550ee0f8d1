"""JSON shapes of the API. Decimals are strings, so no amount passes through a float."""

from decimal import Decimal

from rest_framework import serializers
from rest_framework.validators import UniqueTogetherValidator

from portfolios.models import (
    Holding,
    HoldingImport,
    Portfolio,
    PortfolioSummary,
    symbol_validator,
    validate_positive,
)


class HoldingSerializer(serializers.ModelSerializer):
    # Upper-cased before the pattern and the per-portfolio uniqueness are checked.
    symbol = serializers.CharField(max_length=16)
    # "2.5", not "2.500000".
    quantity = serializers.DecimalField(
        max_digits=20, decimal_places=6, normalize_output=True, validators=[validate_positive]
    )
    unit_cost = serializers.SerializerMethodField(help_text="cost_basis / quantity")

    class Meta:
        model = Holding
        fields = ("id", "portfolio", "symbol", "quantity", "cost_basis", "unit_cost")
        validators = (
            UniqueTogetherValidator(
                queryset=Holding.objects.all(),
                fields=("portfolio", "symbol"),
                message="This portfolio already holds this symbol.",
            ),
        )

    def validate_symbol(self, value):
        value = value.upper()
        symbol_validator(value)
        return value

    def get_unit_cost(self, holding) -> str:
        return str(holding.unit_cost.quantize(Decimal("0.0001")))


class PortfolioSerializer(serializers.ModelSerializer):
    """A portfolio with its totals; the view annotates holding_count and total_cost_basis."""

    holding_count = serializers.IntegerField(read_only=True)
    total_cost_basis = serializers.DecimalField(max_digits=20, decimal_places=2, read_only=True)

    class Meta:
        model = Portfolio
        fields = ("id", "name", "created", "holding_count", "total_cost_basis")


class PortfolioDetailSerializer(PortfolioSerializer):
    holdings = HoldingSerializer(many=True, read_only=True)

    class Meta(PortfolioSerializer.Meta):
        fields = (*PortfolioSerializer.Meta.fields, "holdings")


class HoldingImportSerializer(serializers.ModelSerializer):
    """An import and how it went; `file` is the stored file's name under MEDIA_ROOT, or null."""

    file = serializers.SerializerMethodField()

    class Meta:
        model = HoldingImport
        fields = ("id", "portfolio", "status", "rows", "error", "attempts", "file", "created", "finished")
        read_only_fields = fields

    def get_file(self, record) -> str | None:
        return record.file.name or None


class PortfolioSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = PortfolioSummary
        fields = ("id", "taken", "portfolios", "holdings", "total_cost_basis")
        read_only_fields = fields
