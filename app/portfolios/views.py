from decimal import Decimal

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db.models import Count, DecimalField, Sum, Value
from django.db.models.functions import Coalesce
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from portfolios.csv_import import ImportRejected, import_holdings
from portfolios.models import Holding, Portfolio
from portfolios.serializers import (
    HoldingSerializer,
    PortfolioDetailSerializer,
    PortfolioSerializer,
)


class PortfolioViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    def get_queryset(self):
        portfolios = Portfolio.objects.annotate(
            holding_count=Count("holdings"),
            total_cost_basis=Coalesce(
                Sum("holdings__cost_basis"),
                Value(Decimal(0)),
                output_field=DecimalField(max_digits=20, decimal_places=2),
            ),
        ).order_by("name")
        if self.action == "retrieve":
            portfolios = portfolios.prefetch_related("holdings")
        return portfolios

    def get_serializer_class(self):
        return PortfolioDetailSerializer if self.action == "retrieve" else PortfolioSerializer

    def perform_create(self, serializer):
        # Read back through get_queryset() for the annotated totals of the response.
        serializer.instance = self.get_queryset().get(pk=serializer.save().pk)

    @action(detail=True, methods=["post"], url_path="import", parser_classes=[MultiPartParser])
    def import_csv(self, request, pk=None):
        """POST a CSV of holdings as the multipart field `file`."""
        portfolio = self.get_object()
        try:
            upload = request.FILES.get("file")
        except RequestDataTooBig:
            # The CSV sent as a plain form field rather than a file, and a big one.
            return _rejected(
                f"The upload is larger than the import limit of {settings.PORTFOLIO_IMPORT_MAX_BYTES} bytes."
            )
        if upload is None:
            return _rejected("Send the CSV file as the multipart form field 'file'.")
        try:
            record = import_holdings(portfolio, upload)
        except ImportRejected as exc:
            return _rejected(str(exc))
        return Response(
            {"id": record.id, "imported": record.rows, "file": record.file.name},
            status=status.HTTP_201_CREATED,
        )


def _rejected(message: str) -> Response:
    return Response({"detail": message}, status=status.HTTP_400_BAD_REQUEST)


class HoldingViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Holdings; ?portfolio=<id> narrows the list to one portfolio."""

    serializer_class = HoldingSerializer

    def get_queryset(self):
        holdings = Holding.objects.order_by("portfolio_id", "symbol")
        portfolio = self.request.query_params.get("portfolio")
        if portfolio is not None:
            if not portfolio.isdigit():
                raise ValidationError({"portfolio": "Must be a portfolio id."})
            holdings = holdings.filter(portfolio_id=portfolio)
        return holdings
