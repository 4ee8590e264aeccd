from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from accounts.api import AccountMeView, MeView, SupplyPointDetailView, SupplyPointListView
from metering.api import ConsumptionView
from tickets.api import TicketDetailView, TicketListCreateView

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("users/me", MeView.as_view(), name="api-users-me"),
    path("accounts/me", AccountMeView.as_view(), name="api-accounts-me"),
    path("supply-points/", SupplyPointListView.as_view(), name="api-supply-points"),
    path("supply-points/<int:pk>", SupplyPointDetailView.as_view(), name="api-supply-point"),
    path("tickets/", TicketListCreateView.as_view(), name="api-tickets"),
    path("tickets/<str:reference>", TicketDetailView.as_view(), name="api-ticket"),
    path(
        "supply-points/<int:pk>/consumption",
        ConsumptionView.as_view(),
        name="api-supply-point-consumption",
    ),
    path("", include("metering.api_urls_ingest")),
]
