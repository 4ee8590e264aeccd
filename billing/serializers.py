"""API shapes of invoices: amounts as strings with two decimals, kWh with three."""

from __future__ import annotations

from datetime import date, timedelta

from rest_framework import serializers

from billing.models import Invoice, InvoiceLine

MAX_EXPORT_DAYS = 366


class InvoiceLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = InvoiceLine
        fields = [
            "position",
            "kind",
            "label",
            "quantity",
            "unit",
            "unit_price",
            "amount",
            "vat_rate",
            "start",
            "end",
        ]
        read_only_fields = fields


class InvoiceSummarySerializer(serializers.ModelSerializer):
    # A plain string in the schema: an enum named "status" would collide with the tickets'
    # one (drf-spectacular names enums after the field).
    status = serializers.CharField(read_only=True, help_text="ISSUED or CANCELLED")
    supply_point = serializers.CharField(source="supply_point.identifier", read_only=True)
    credited_invoice = serializers.CharField(
        source="credited_invoice.number", read_only=True, allow_null=True, default=None
    )
    pdf_ready = serializers.SerializerMethodField()

    class Meta:
        model = Invoice
        fields = [
            "number",
            "kind",
            "status",
            "supply_point",
            "period_start",
            "period_end",
            "issue_date",
            "due_date",
            "tariff_name",
            "estimated",
            "consumption_kwh",
            "total_net",
            "total_vat",
            "total_gross",
            "credited_invoice",
            "pdf_ready",
        ]
        read_only_fields = fields

    def get_pdf_ready(self, invoice: Invoice) -> bool:
        return bool(invoice.pdf)


class InvoiceDetailSerializer(InvoiceSummarySerializer):
    lines = InvoiceLineSerializer(many=True, read_only=True)

    class Meta(InvoiceSummarySerializer.Meta):
        fields = [
            *InvoiceSummarySerializer.Meta.fields,
            "last_year_kwh",
            "written_off_kwh",
            "needs_rebill",
            "lines",
        ]
        read_only_fields = fields


class PdfPendingSerializer(serializers.Serializer):
    status = serializers.CharField()
    retry_after = serializers.IntegerField(help_text="Seconds")


class ExportQuerySerializer(serializers.Serializer):
    """period_from inclusive, period_to exclusive (local days), at most a year."""

    period_from = serializers.DateField()
    period_to = serializers.DateField()

    def validate(self, attrs: dict) -> dict:
        start: date = attrs["period_from"]
        end: date = attrs["period_to"]
        if end <= start:
            raise serializers.ValidationError({"period_to": ["Must be after period_from."]})
        if end - start > timedelta(days=MAX_EXPORT_DAYS):
            raise serializers.ValidationError(
                {"period_to": [f"The period is at most {MAX_EXPORT_DAYS} days."]}
            )
        return attrs
