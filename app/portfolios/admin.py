from django.contrib import admin

from portfolios.models import Holding, HoldingImport, Portfolio, PortfolioSummary


class HoldingInline(admin.TabularInline):
    model = Holding
    extra = 0


@admin.register(Portfolio)
class PortfolioAdmin(admin.ModelAdmin):
    list_display = ("name", "created")
    search_fields = ("name",)
    inlines = (HoldingInline,)


@admin.register(Holding)
class HoldingAdmin(admin.ModelAdmin):
    list_display = ("symbol", "portfolio", "quantity", "cost_basis")
    list_filter = ("portfolio",)
    search_fields = ("symbol",)


@admin.register(HoldingImport)
class HoldingImportAdmin(admin.ModelAdmin):
    """Read-only: an import is made by the API and carried out by the worker."""

    list_display = ("file", "portfolio", "status", "rows", "attempts", "created", "finished")
    list_filter = ("status", "portfolio")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PortfolioSummary)
class PortfolioSummaryAdmin(admin.ModelAdmin):
    """Read-only: written by the periodic task portfolios.tasks.summarize."""

    list_display = ("taken", "portfolios", "holdings", "total_cost_basis")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
