"""Portal routes of consumption: charts and downloads, mounted at /portal/consumption/."""

from django.urls import path

from . import views_analytics, views_exports

app_name = "portal_consumption"

urlpatterns = [
    path("", views_analytics.consumption_home, name="home"),
    path("<int:pk>/", views_analytics.consumption_charts, name="charts"),
    path("<int:pk>/download", views_exports.consumption_download, name="download"),
]
