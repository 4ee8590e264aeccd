"""Supervisor pages: text (see docs/kpi-text.md)."""

from django.urls import path

from .views import text as views

urlpatterns: list = [
    path("quality/flags/", views.quality_flags, name="quality_flags"),
    path(
        "quality/flags/<int:flag_id>/dismiss/",
        views.quality_flag_dismiss,
        name="quality_flag_dismiss",
    ),
]
