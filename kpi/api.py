"""REST API of `kpi`, for supervisors and admins (their session, second factor included).

OAuth clients of business accounts are refused (403): these figures are the contact
centre's own, not a customer's.
"""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import access
from accounts.domain import ShellDecision
from accounts.oauth import api_client_of
from accounts.serializers import ApiErrorSerializer

from .domain import erlang


class IsSupervisorSession(BasePermission):
    """A signed-in SUPERVISOR or ADMIN whom the supervisor shell's guard lets in, second
    factor included; never an OAuth client (its request has no user)."""

    message = "This endpoint is for supervisors and administrators."

    def has_permission(self, request, view) -> bool:
        if api_client_of(request) is not None:
            return False
        user = request.user
        if user is None or not user.is_authenticated:
            return False
        return access.decide(request, access.SUPERVISOR_ROLES) is ShellDecision.ALLOW


SUPERVISOR_ERRORS = {400: ApiErrorSerializer, 401: ApiErrorSerializer, 403: ApiErrorSerializer}


# --- Staffing planner ---------------------------------------------------------------


def _share(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=7,
        decimal_places=6,
        min_value=Decimal(0),
        max_value=Decimal(1),
        coerce_to_string=False,
        **kwargs,
    )


class StaffingQuerySerializer(serializers.Serializer):
    """The query string of GET /kpi/staffing. Decimals are parsed from the text, never
    through a float, so that the FTE is exact."""

    contacts = serializers.DecimalField(
        max_digits=12,
        decimal_places=4,
        min_value=Decimal(0),
        coerce_to_string=False,
        help_text="Contacts forecast in the interval (offered, inbound).",
    )
    interval_minutes = serializers.IntegerField(
        min_value=1, max_value=1440, help_text="Length of the interval, in minutes (1–1440)."
    )
    aht_seconds = serializers.DecimalField(
        max_digits=9,
        decimal_places=3,
        min_value=Decimal("0.001"),
        max_value=Decimal(86_400),
        coerce_to_string=False,
        help_text="Average handle time (talk + hold + after-call work), in seconds.",
    )
    target_service_level = _share(
        help_text="Share of contacts to answer within target_answer_seconds, above 0 and below 1."
    )
    target_answer_seconds = serializers.DecimalField(
        max_digits=9,
        decimal_places=3,
        min_value=Decimal(0),
        max_value=Decimal(86_400),
        coerce_to_string=False,
        help_text="The service level's answer time, in seconds.",
    )
    shrinkage = _share(
        required=False,
        default=Decimal("0.30"),
        help_text="Share of paid time away from contacts (breaks, training, absence), "
        "at least 0 and below 1. Default 0.30.",
    )
    max_occupancy = _share(
        required=False,
        allow_null=True,
        default=None,
        help_text="Optional ceiling on the share of the agents' time spent on contacts "
        "(above 0, at most 1).",
    )

    def validate_target_service_level(self, value: Decimal) -> Decimal:
        if value <= 0:
            raise serializers.ValidationError("Must be above 0.")
        return value

    def validate_shrinkage(self, value: Decimal) -> Decimal:
        if value >= 1:
            raise serializers.ValidationError("Must be below 1.")
        return value

    def validate_max_occupancy(self, value: Decimal | None) -> Decimal | None:
        if value is not None and value <= 0:
            raise serializers.ValidationError("Must be above 0.")
        return value


class StaffingSerializer(StaffingQuerySerializer):
    """The answer: the inputs as understood, then the figures."""

    shrinkage = _share()
    max_occupancy = _share(allow_null=True)
    traffic_erlangs = serializers.FloatField(help_text="A = contacts × AHT / interval length.")
    agents = serializers.IntegerField(
        help_text="Smallest N > A with service level ≥ target (and occupancy ≤ max_occupancy)."
    )
    service_level = serializers.FloatField(
        allow_null=True,
        help_text="1 − C·exp(−(N − A)·t / AHT) with t = target_answer_seconds; "
        "null without contacts.",
    )
    probability_of_waiting = serializers.FloatField(
        allow_null=True, help_text="Erlang C (from the Erlang B recursion); null without contacts."
    )
    asa_seconds = serializers.FloatField(
        allow_null=True, help_text="C·AHT / (N − A), over all contacts; null without contacts."
    )
    occupancy = serializers.FloatField(allow_null=True, help_text="A / N; null without contacts.")
    fte = serializers.IntegerField(help_text="⌈agents / (1 − shrinkage)⌉, in exact arithmetic.")


# Which query parameter to blame when the calculation has no answer.
_ERROR_FIELDS = {"max_occupancy", "target_service_level", "contacts", "aht_seconds", "shrinkage"}


class StaffingApiView(APIView):
    permission_classes = [IsSupervisorSession]

    @extend_schema(
        operation_id="kpi_staffing",
        summary="Agents and FTE for one interval (Erlang C)",
        description="The staffing planner's calculation for one interval: offered traffic, "
        "the agents needed to meet the service level target (inclusive), its service "
        "level, probability of waiting, ASA and occupancy, and the FTE to roster. "
        "Supervisors and administrators only (session with second factor); OAuth "
        "clients get 403. A target no staffing can meet (a service level of 1, or a "
        "maximum occupancy needing more than 50,000 agents) is a 400 on that field.",
        parameters=[StaffingQuerySerializer],
        responses={200: StaffingSerializer, **SUPERVISOR_ERRORS},
    )
    def get(self, request: Request) -> Response:
        query = StaffingQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        inputs = query.validated_data
        try:
            result = erlang.interval_staffing(**inputs)
        except erlang.StaffingError as exc:
            field = exc.field if exc.field in _ERROR_FIELDS else "non_field_errors"
            raise ValidationError({field: [_api_message(exc)]}) from exc
        return Response(
            StaffingSerializer(
                {
                    **inputs,
                    "traffic_erlangs": float(result.traffic),
                    "agents": result.agents,
                    "service_level": result.service_level,
                    "probability_of_waiting": result.probability_of_waiting,
                    "asa_seconds": result.asa_seconds,
                    "occupancy": None if result.occupancy is None else float(result.occupancy),
                    "fte": result.fte,
                }
            ).data
        )


def _api_message(exc: erlang.StaffingError) -> str:
    if isinstance(exc, erlang.TrafficTooHigh):
        return f"This load needs more than {erlang.MAX_AGENTS} agents."
    if isinstance(exc, erlang.TargetUnreachable) and exc.field == "max_occupancy":
        return f"This occupancy ceiling needs more than {erlang.MAX_AGENTS} agents."
    if isinstance(exc, erlang.TargetUnreachable):
        return "No number of agents reaches this service level (Erlang C never reaches 1)."
    return str(exc)
