from django.urls import path

from . import views

app_name = "portal_readings"

urlpatterns = [
    path("", views.portal_readings, name="index"),
    path("<int:supply_point_id>/", views.portal_reading_submit, name="submit"),
]
