"""Supervisor pages: people (see docs/kpi-people.md)."""

urlpatterns: list = []
