from rest_framework.routers import SimpleRouter

from portfolios.views import (
    HoldingImportViewSet,
    HoldingViewSet,
    PortfolioSummaryViewSet,
    PortfolioViewSet,
)

router = SimpleRouter()
router.register("portfolios", PortfolioViewSet, basename="portfolio")
router.register("holdings", HoldingViewSet, basename="holding")
router.register("imports", HoldingImportViewSet, basename="import")
router.register("summaries", PortfolioSummaryViewSet, basename="summary")

urlpatterns = router.urls
