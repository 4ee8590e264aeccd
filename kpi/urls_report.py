"""Supervisor pages: report (see docs/kpi-report.md)."""

from datetime import date

from django.urls import path, register_converter

from .views import report as views


class MonthConverter:
    """`2026-10` ↔ date(2026, 10, 1). A month that cannot be read (2026-13) matches no
    URL, hence a 404; a month to come is a 404 from the view."""

    regex = r"\d{4}-\d{2}"

    def to_python(self, value: str) -> date:
        year, month = int(value[:4]), int(value[5:])
        if not 1 <= month <= 12 or year < 2000:
            raise ValueError(value)
        return date(year, month, 1)

    def to_url(self, value) -> str:
        return f"{value:%Y-%m}" if isinstance(value, date) else str(value)


register_converter(MonthConverter, "report_month")

urlpatterns = [
    path("reports/", views.report_months, name="report_months"),
    path("reports/<report_month:month>/", views.report_month, name="report_month"),
    path(
        "reports/<report_month:month>/report.pdf", views.report_month_pdf, name="report_month_pdf"
    ),
    path(
        "reports/<report_month:month>/report.csv", views.report_month_csv, name="report_month_csv"
    ),
    path("reports/<report_month:month>/rca/", views.report_rca, name="report_rca"),
    path("reports/<report_month:month>/close/", views.report_close, name="report_close"),
    path("reports/<report_month:month>/reopen/", views.report_reopen, name="report_reopen"),
]
