"""Supervisor pages: text (see docs/kpi-text.md)."""

urlpatterns: list = []
