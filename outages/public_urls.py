from django.urls import path  # noqa: F401

app_name = "outages_public"

urlpatterns: list = []
