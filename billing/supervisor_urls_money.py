from django.urls import path  # noqa: F401

app_name = "supervisor_money"

urlpatterns: list = []
