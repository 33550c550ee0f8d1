"""URLs. /health/ is answered by health.middleware before URL routing."""

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("portfolios.urls")),
    # Serves uploads under runserver with DEBUG on; empty otherwise (nginx serves /media/).
    *static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT),
]
