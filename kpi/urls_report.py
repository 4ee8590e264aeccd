"""Supervisor pages: report (see docs/kpi-report.md)."""

urlpatterns: list = []
