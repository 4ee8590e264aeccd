from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("accounts.urls")),
    path("portal/", include("accounts.portal_urls")),
    path("console/", include("accounts.console_urls")),
    path("supervisor/", include("kpi.urls")),
    path("field/", include("outages.field_urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("powernext.api_urls")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
