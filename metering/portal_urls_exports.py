"""Portal routes of the consumption downloads, mounted at /portal/consumption/."""

from django.urls import path

from . import views_exports

app_name = "portal_consumption"

urlpatterns = [
    path("<int:pk>/download", views_exports.consumption_download, name="download"),
]
