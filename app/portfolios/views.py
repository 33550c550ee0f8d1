import logging
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.db.models import Count, DecimalField, Sum, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from portfolios import tasks
from portfolios.csv_import import ImportRejected, check_upload, queue_import
from portfolios.models import Holding, HoldingImport, Portfolio, PortfolioSummary
from portfolios.serializers import (
    HoldingImportSerializer,
    HoldingSerializer,
    PortfolioDetailSerializer,
    PortfolioSerializer,
    PortfolioSummarySerializer,
)

logger = logging.getLogger(__name__)


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
        """POST a CSV of holdings as the multipart field `file`.

        A file of the wrong size or shape: 400 and nothing stored. Otherwise 202: the file is
        stored and its import queued; GET the answer's url until its status is done or failed.
        """
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
            data = check_upload(upload)
        except ImportRejected as exc:
            return _rejected(str(exc))
        with transaction.atomic():
            record = queue_import(portfolio, upload.name, data)
            transaction.on_commit(lambda: _enqueue(record))
        # Inline tasks (no broker) have finished by now: answer what became of the import.
        record.refresh_from_db()
        return Response(
            {
                "id": record.id,
                "status": record.status,
                "url": reverse("import-detail", kwargs={"pk": record.id}),
            },
            status=status.HTTP_202_ACCEPTED,
        )


def _enqueue(record: HoldingImport) -> None:
    """Queue the import's task; if the broker cannot take it, the import fails saying so."""
    try:
        tasks.import_holdings.delay(record.id)
    except Exception:
        logger.exception("import %s: could not be queued", record.id)
        record.file.delete(save=False)
        record.status = HoldingImport.Status.FAILED
        record.error = "The import could not be queued; try again later."
        record.finished = timezone.now()
        record.save(update_fields=["file", "status", "error", "finished"])


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
        return _portfolio_filter(self.request, Holding.objects.order_by("portfolio_id", "symbol"))


def _portfolio_filter(request, queryset):
    portfolio = request.query_params.get("portfolio")
    if portfolio is None:
        return queryset
    if not portfolio.isdigit():
        raise ValidationError({"portfolio": "Must be a portfolio id."})
    return queryset.filter(portfolio_id=portfolio)


class HoldingImportViewSet(viewsets.ReadOnlyModelViewSet):
    """CSV imports, newest first; ?portfolio=<id> narrows the list to one portfolio."""

    serializer_class = HoldingImportSerializer

    def get_queryset(self):
        return _portfolio_filter(self.request, HoldingImport.objects.order_by("-created", "-id"))


class PortfolioSummaryViewSet(viewsets.ReadOnlyModelViewSet):
    """The periodic summaries (portfolios.tasks.summarize), newest first."""

    serializer_class = PortfolioSummarySerializer
    queryset = PortfolioSummary.objects.order_by("-taken", "-id")
