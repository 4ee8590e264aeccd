from django.urls import path  # noqa: F401

app_name = "console_money"

urlpatterns: list = []
