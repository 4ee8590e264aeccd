"""Input and output shapes of the outages API."""

from __future__ import annotations

from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.company import EMERGENCY_PHONE

from .domain import rules
from .models import OutageReport


class _JsonInstantField(serializers.DateTimeField):
    """An instant read from a JSON value built in SQL (an ISO string), written like
    every other date-time of the API (Paris offset)."""

    def to_representation(self, value):
        if isinstance(value, str):
            value = parse_datetime(value)
        return super().to_representation(value) if value is not None else None


class LiveIncidentSerializer(serializers.Serializer):
    reference = serializers.CharField(help_text="Incident reference, e.g. INC-2026-00042.")
    # A plain string in the schema: an enum named after "status" would collide with
    # the other status enums of the API.
    status = serializers.CharField(
        help_text="SUSPECTED: reported by customers, being checked; CONFIRMED: a known outage."
    )
    incident_class = serializers.ChoiceField(
        source="klass",
        choices=["P1", "P2", "P3"],
        help_text="P1: several households off supply; P2: significant; P3: one customer.",
    )
    started_at = _JsonInstantField()
    customers_affected = serializers.IntegerField()
    etr = _JsonInstantField(allow_null=True, help_text="Estimated time of restoration.")
    etr_source = serializers.CharField(
        allow_blank=True, help_text="Who gave the estimate: SYSTEM, CREW or OPERATOR."
    )
    etr_confidence = serializers.CharField(allow_blank=True, help_text="LOW, MEDIUM or HIGH.")
    last_update_at = _JsonInstantField(allow_null=True, help_text="Last public update.")
    next_update_due_at = _JsonInstantField(
        allow_null=True, help_text="The next public update is due by then."
    )


@extend_schema_field(LiveIncidentSerializer(allow_null=True))
class _LiveIncidentField(serializers.Field):
    def to_representation(self, value):
        return LiveIncidentSerializer(value).data if value else None


class SupplyPointOutageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    identifier = serializers.CharField(help_text="PRM, MPAN or EIC.")
    postcode = serializers.CharField(source="premise.postcode")
    outage = _LiveIncidentField(
        source="live_incident",
        read_only=True,
        help_text="The outage this supply point is part of now, or null.",
    )


class ReportCreateSerializer(serializers.Serializer):
    supply_point_id = serializers.IntegerField(
        required=False, min_value=1, help_text="A supply point of the caller's account, by id."
    )
    supply_point_identifier = serializers.CharField(
        required=False,
        max_length=21,
        help_text="Or by its PRM, MPAN or EIC (give one of the two).",
    )
    description = serializers.CharField(
        required=False, allow_blank=True, max_length=4000, default=""
    )
    hazards = serializers.ListField(
        child=serializers.ChoiceField(choices=list(rules.HAZARDS)),
        required=False,
        default=list,
        max_length=len(rules.HAZARDS),
        help_text="Any danger seen: call the emergency number at once as well.",
    )
    breakers_checked = serializers.BooleanField(
        required=False, default=False, help_text="The customer's breakers were checked first."
    )

    def validate(self, attrs):
        given = [k for k in ("supply_point_id", "supply_point_identifier") if attrs.get(k)]
        if len(given) != 1:
            raise serializers.ValidationError(
                {"supply_point_id": "Give either supply_point_id or supply_point_identifier."}
            )
        return attrs


class ReportCreatedSerializer(serializers.ModelSerializer):
    status = serializers.CharField(
        help_text="LINKED: joined to an outage (known or suspected); see incident_reference."
    )
    incident_reference = serializers.CharField(source="incident.reference", allow_null=True)
    emergency_phone = serializers.SerializerMethodField(
        help_text="Call it now if there is smoke, sparks, humming or a fallen line."
    )

    class Meta:
        model = OutageReport
        fields = [
            "reference",
            "status",
            "safety_critical",
            "incident_reference",
            "created_at",
            "emergency_phone",
        ]
        read_only_fields = fields

    def get_emergency_phone(self, report) -> str:
        return EMERGENCY_PHONE
