from django.urls import path

from .api import ReportCreateView, SupplyPointOutageListView

urlpatterns = [
    path("supply-points/", SupplyPointOutageListView.as_view(), name="api-outages-supply-points"),
    path("reports/", ReportCreateView.as_view(), name="api-outages-reports"),
]
