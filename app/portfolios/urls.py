from rest_framework.routers import SimpleRouter

from portfolios.views import HoldingViewSet, PortfolioViewSet

router = SimpleRouter()
router.register("portfolios", PortfolioViewSet, basename="portfolio")
router.register("holdings", HoldingViewSet, basename="holding")

urlpatterns = router.urls
