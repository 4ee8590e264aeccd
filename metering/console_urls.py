from django.urls import path

from . import views

app_name = "console_metering"

urlpatterns = [
    path("tickets/<str:reference>/meter-check/", views.console_meter_check, name="check"),
    path("tickets/<str:reference>/site-visit/", views.console_site_visit_done, name="visit_done"),
]
