from django.contrib import admin

from portfolios.models import Holding, HoldingImport, Portfolio


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
    """Read-only: an import is made by the API, which also creates its holdings."""

    list_display = ("file", "portfolio", "rows", "created")
    list_filter = ("portfolio",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
