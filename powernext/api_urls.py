from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from accounts.api import AccountMeView, MeView, SupplyPointDetailView, SupplyPointListView
from billing.api import BillingExportView, InvoiceDetailView, InvoiceListView, InvoicePdfView
from kpi.api import KpiAlertsApiView, KpiFiguresApiView, KpiTargetsApiView, StaffingApiView
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
    path("invoices/", InvoiceListView.as_view(), name="api-invoices"),
    path("invoices/<str:number>", InvoiceDetailView.as_view(), name="api-invoice"),
    path("invoices/<str:number>/pdf", InvoicePdfView.as_view(), name="api-invoice-pdf"),
    path("billing/export.csv", BillingExportView.as_view(), name="api-billing-export"),
    path("", include("metering.api_urls_ingest")),
    path("outages/", include("outages.api_urls")),
    path("kpi/staffing", StaffingApiView.as_view(), name="api-kpi-staffing"),
    path("kpi/figures", KpiFiguresApiView.as_view(), name="api-kpi-figures"),
    path("kpi/targets", KpiTargetsApiView.as_view(), name="api-kpi-targets"),
    path("kpi/alerts", KpiAlertsApiView.as_view(), name="api-kpi-alerts"),
]
