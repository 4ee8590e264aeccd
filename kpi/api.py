"""REST API of `kpi`, for supervisors and admins (their session, second factor included)
and for staff API clients (the centre's BI tools) whose token carries `kpi:read`.

OAuth clients of business accounts are refused (403) whatever their scopes: these figures
are the contact centre's own, not a customer's.
"""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from oauth2_provider.contrib.rest_framework import TokenHasScope
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import access
from accounts.domain import ShellDecision
from accounts.oauth import staff_api_client_of
from accounts.serializers import ApiErrorSerializer
from accounts.throttling import RateLimitHeadersMixin

from .domain import erlang
from .domain import snapshots as snap
from .models import AlertMetric, SnapshotDimension, SnapshotKind
from .selectors import PARIS
from .selectors import api as selectors

KPI_SCOPE = "kpi:read"  # one of settings.STAFF_API_SCOPES, never grantable to a business


class SupervisorOrKpiClient(TokenHasScope):
    """A signed-in SUPERVISOR or ADMIN whom the supervisor shell's guard lets in, second
    factor included; or the token of an active staff client carrying `kpi:read` (active:
    not revoked, and its owner still an active supervisor or admin, `accounts.oauth`).

    Any other token, a business client's above all, is refused whatever its scopes.
    A subclass of TokenHasScope so that the OpenAPI schema lists the scope."""

    message = "This endpoint is for supervisors, administrators and staff API clients."

    def get_scopes(self, request, view) -> list[str]:
        return [KPI_SCOPE]

    def has_permission(self, request, view) -> bool:
        if hasattr(request.auth, "scope"):  # an OAuth token: never the session path
            if staff_api_client_of(request) is None:
                return False
            scopes = self.get_scopes(request, view)
            if request.auth.allow_scopes(scopes):
                return True
            self.message = f"This token does not carry the {' '.join(scopes)} scope."
            self.code = "insufficient_scope"
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


class StaffingApiView(RateLimitHeadersMixin, APIView):
    permission_classes = [SupervisorOrKpiClient]

    @extend_schema(
        operation_id="kpi_staffing",
        summary="Agents and FTE for one interval (Erlang C)",
        description="The staffing planner's calculation for one interval: offered traffic, "
        "the agents needed to meet the service level target (inclusive), its service "
        "level, probability of waiting, ASA and occupancy, and the FTE to roster. "
        "Supervisors and administrators (session with second factor) and staff clients "
        "(scope `kpi:read`); business clients get 403. A target no staffing can meet (a service level of 1, or a "
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


# --- KPI figures, targets and alerts for BI tools (docs/kpi-api.md) -------------------


class KpiApiPagination(PageNumberPagination):
    """Page numbers over a unique ordering, so a BI tool may fetch pages in any order.
    A bad `page` or `page_size` is a 400 on that parameter, like any other input."""

    page_size = 200
    page_size_query_param = "page_size"
    max_page_size = 1000

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param) or ""
        if not raw:
            return self.page_size
        size = _whole(raw)
        if size is None or size < 1:
            raise ValidationError({self.page_size_query_param: ["Must be a whole number ≥ 1."]})
        return min(size, self.max_page_size)

    def get_page_number(self, request: Request, paginator) -> int:
        number = _whole(request.query_params.get(self.page_query_param) or "1")
        # num_pages counts the rows once; the paginator reuses that count for the page.
        if number is None or not 1 <= number <= paginator.num_pages:
            raise ValidationError(
                {self.page_query_param: [f"Must be a page from 1 to {paginator.num_pages}."]}
            )
        return number


def _whole(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() else None


def _paris_instant(**kwargs) -> serializers.DateTimeField:
    # Whatever language or zone a session has activated, BI tools get Paris offsets.
    return serializers.DateTimeField(default_timezone=PARIS, **kwargs)


class FiguresQuerySerializer(serializers.Serializer):
    """The query string of GET /kpi/figures. `from` is a Python keyword, so the field is
    declared as `from_` and renamed."""

    grain = serializers.ChoiceField(
        choices=SnapshotKind.choices,
        help_text="INTERVAL (15, 30 or 60 minutes, as configured), DAY or MONTH (Paris time).",
    )
    dimension = serializers.ChoiceField(
        choices=SnapshotDimension.choices,
        required=False,
        help_text="Only the rows of this breakdown; every breakdown when absent.",
    )
    key = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=120,
        help_text="Only this value of the dimension (a queue or channel code, an agent's id, "
        "`none` for records without an agent, a commitment label, an incident class). "
        "Needs `dimension`; OVERALL has no key. Empty means no filter.",
    )
    from_ = serializers.DateField(
        input_formats=["%Y-%m-%d"],
        help_text="First Paris day (YYYY-MM-DD) whose periods are wanted; for MONTH, its month.",
    )
    to = serializers.DateField(
        input_formats=["%Y-%m-%d"],
        help_text=f"Last Paris day (YYYY-MM-DD), included; for MONTH, its month. At most "
        f"{selectors.MAX_INTERVAL_DAYS} days for INTERVAL, {selectors.MAX_DAY_DAYS} days "
        f"for DAY, {selectors.MAX_MONTHS} months for MONTH.",
    )

    def get_fields(self):
        fields = super().get_fields()
        to = fields.pop("to")
        fields["from"] = fields.pop("from_")
        fields["to"] = to
        return fields

    def validate(self, data: dict) -> dict:
        dimension = data.get("dimension")
        key = data.get("key") or None
        errors = {}
        if key is not None and dimension is None:
            errors["key"] = ["Give the dimension this key belongs to."]
        elif key is not None and dimension == SnapshotDimension.OVERALL:
            errors["key"] = ["OVERALL has no key."]
        problem = selectors.kpi_api_range_error(
            grain=data["grain"], day_from=data["from"], day_to=data["to"]
        )
        if problem:
            errors["to"] = [problem]
        if errors:
            raise ValidationError(errors)
        return {
            "grain": data["grain"],
            "dimension": dimension,
            "key": key,
            "day_from": data["from"],
            "day_to": data["to"],
        }


def _count(name: str, help_text: str) -> serializers.IntegerField:
    return serializers.IntegerField(source=f"figures.{name}", help_text=help_text)


def _ratio(name: str, help_text: str) -> serializers.FloatField:
    return serializers.FloatField(
        source=f"figures.{name}", allow_null=True, help_text=f"{help_text} Null when undefined."
    )


class KpiFigureRowSerializer(serializers.Serializer):
    """One snapshot row: its period, its cell, the additive counts and sums it stores,
    and the KPIs computed from them (kpi.domain.snapshots.Figures)."""

    grain = serializers.ChoiceField(choices=SnapshotKind.choices)
    period_start = _paris_instant(help_text="Start of the period, ISO 8601 with its Paris offset.")
    period_end = _paris_instant(
        help_text="End of the period (excluded). A DAY is 23 or 25 hours on DST Sundays."
    )
    dimension = serializers.ChoiceField(choices=SnapshotDimension.choices)
    key = serializers.CharField(help_text="The dimension's value; empty for OVERALL.")
    answer_target_seconds = serializers.IntegerField(
        help_text="X of the service level (answered within X seconds) the row was built with."
    )
    built_at = _paris_instant(
        help_text="When the beat last wrote this row's figures (a rebuild that finds them "
        "unchanged leaves it as it was)."
    )
    in_progress = serializers.BooleanField(
        help_text="The period had not ended at the request: the row is partial."
    )
    # Additive: sum them over rows of one dimension value to widen a period.
    contacts = _count("contacts", "Every contact record of the cell, any channel or direction.")
    offered = _count(
        "offered", "Inbound real-time contacts that reached a queue, short abandons excluded."
    )
    answered = _count("answered", "Offered contacts answered.")
    answered_within_target = _count(
        "answered_within_target", "Offered contacts answered within answer_target_seconds."
    )
    abandoned = _count("abandoned", "Offered contacts abandoned.")
    short_abandons = _count("short_abandons", "Abandons under 5 s (in no ratio).")
    wait_us_sum = _count("wait_us_sum", "Sum of the answered contacts' waits, in microseconds.")
    handled = _count("handled", "Real-time contacts answered, inbound or outbound.")
    handle_seconds_sum = _count("handle_seconds_sum", "Talk + hold + wrap of the handled contacts.")
    fcr_eligible = _count("fcr_eligible", "First contacts with a resolution verdict.")
    fcr_resolved = _count("fcr_resolved", "Of those, resolved there and then.")
    attempts = _count("attempts", "Inbound real-time attempts: reached a queue, busy or blocked.")
    reached_queue = _count("reached_queue", "Attempts that reached a queue.")
    repeat_eligible = _count("repeat_eligible", "Contacts that can be a repeat.")
    repeats = _count("repeats", "Of those, the same customer and issue within 7 days.")
    csat_answers = _count("csat_answers", "CSAT answers (1–5).")
    csat_satisfied = _count("csat_satisfied", "CSAT answers of 4 or 5.")
    nps_answers = _count("nps_answers", "NPS answers (0–10).")
    promoters = _count("promoters", "NPS answers of 9 or 10.")
    detractors = _count("detractors", "NPS answers of 0 to 6.")
    commitments_due = _count("commitments_due", "Commitments due in the period and decided.")
    commitments_met = _count("commitments_met", "Of those, met.")
    restored_incidents = _count("restored_incidents", "Unplanned incidents restored.")
    restore_us_sum = _count("restore_us_sum", "Their restoration times, in microseconds.")
    # Stocks at the end of the period (at the build for one in progress): never summed.
    backlog = _count("backlog", "Customer tickets open at the end of the period.")
    backlog_ageing = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="The backlog by age: every bucket of "
        f"{', '.join(snap.AGEING_NAMES)}, empty ones as 0.",
    )
    # Ratios, from the counts above (docs/kpi.md, "Definitions").
    asa_seconds = _ratio("asa_seconds", "wait_us_sum / 10⁶ / answered.")
    aht_seconds = _ratio("aht_seconds", "handle_seconds_sum / handled.")
    fcr_percent = _ratio("fcr_percent", "100 × fcr_resolved / fcr_eligible.")
    csat_percent = _ratio("csat_percent", "100 × csat_satisfied / csat_answers.")
    nps = _ratio("nps", "100 × (promoters − detractors) / nps_answers.")
    abandonment_percent = _ratio("abandonment_percent", "100 × abandoned / offered.")
    service_level_percent = _ratio(
        "service_level_percent", "100 × answered_within_target / offered."
    )
    sla_percent = _ratio("sla_percent", "SLA attainment: 100 × commitments_met / commitments_due.")
    repeat_contact_percent = _ratio("repeat_contact_percent", "100 × repeats / repeat_eligible.")
    contact_success_percent = _ratio("contact_success_percent", "100 × reached_queue / attempts.")
    mttr_seconds = _ratio("mttr_seconds", "restore_us_sum / 10⁶ / restored_incidents.")


class KpiFiguresApiView(RateLimitHeadersMixin, generics.ListAPIView):
    permission_classes = [SupervisorOrKpiClient]
    serializer_class = KpiFigureRowSerializer
    pagination_class = KpiApiPagination

    @extend_schema(
        operation_id="kpi_figures_list",
        summary="KPI snapshot rows of a grain and a date range",
        description="The rows the beat builds in `KpiSnapshot` (never the raw records): "
        "per period (`grain`) and cell (`dimension`, `key`), the additive counts and sums, "
        "the backlog and its ageing, and the KPIs computed from them (null when "
        "undefined). Ordered by period_start, dimension, key; page-number pagination "
        f"({KpiApiPagination.page_size} rows a page by default, at most "
        f"{KpiApiPagination.max_page_size}). Today's rows are as fresh as the last build "
        "(every 15 minutes for today's intervals and day; the night after for a whole day; "
        "the 1st of the next month for a MONTH row): see `built_at` and `in_progress`. "
        "Supervisors and administrators (session with second factor) and staff clients "
        "(scope `kpi:read`); business clients get 403. Invalid parameters or too long a range are a 400 on the field.",
        parameters=[FiguresQuerySerializer],
        responses={200: KpiFigureRowSerializer(many=True), **SUPERVISOR_ERRORS},
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return []
        query = FiguresQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.kpi_api_figures(**query.validated_data, now=timezone.now())


class KpiTargetSerializer(serializers.Serializer):
    kpi = serializers.CharField(help_text="The dashboard tile (asa, aht, fcr, …).")
    figure = serializers.CharField(help_text="The field of /kpi/figures it rates.")
    rule = serializers.CharField(
        help_text="below: met when value < high; at_most: value ≤ high; at_least: value ≥ "
        "low; between: low ≤ value ≤ high.",
    )
    low = serializers.FloatField(allow_null=True)
    high = serializers.FloatField(allow_null=True)
    amber_band = serializers.FloatField(
        help_text="How far past the bound the tile is amber rather than red, in `unit`."
    )
    unit = serializers.CharField(help_text="seconds, percent or points (NPS).")
    dimension = serializers.ChoiceField(
        choices=SnapshotDimension.choices,
        allow_null=True,
        help_text="Null: the default for every cell. Else the one cell with its own target.",
    )
    key = serializers.CharField(allow_null=True)


class KpiTargetsApiView(RateLimitHeadersMixin, APIView):
    permission_classes = [SupervisorOrKpiClient]

    @extend_schema(
        operation_id="kpi_targets_list",
        summary="The targets the dashboard rates its KPIs against",
        description="The configured targets (administrators change them without a "
        "deploy) with their rule and amber band: the defaults (`dimension` null), then "
        "the queues with their own (the billing queue's ASA and FCR). Supervisors, "
        "administrators and staff clients (`kpi:read`); business clients get 403.",
        responses={200: KpiTargetSerializer(many=True), **SUPERVISOR_ERRORS},
    )
    def get(self, request: Request) -> Response:
        return Response(KpiTargetSerializer(selectors.kpi_api_targets(), many=True).data)


class AlertsQuerySerializer(serializers.Serializer):
    open = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="true: the open alerts only; false: the cleared ones only; absent: all.",
    )


class KpiAlertSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    metric = serializers.ChoiceField(choices=AlertMetric.choices)
    scope = serializers.CharField(help_text="A queue code, or OVERALL.")
    raised_at = _paris_instant()
    value_at_raise = serializers.FloatField(help_text="Seconds (ASA) or contacts waiting.")
    threshold = serializers.FloatField()
    cleared_at = _paris_instant(allow_null=True)
    value_at_clear = serializers.FloatField(
        allow_null=True, help_text="Null while open, or when cleared for want of a figure."
    )
    open = serializers.SerializerMethodField()

    def get_open(self, alert) -> bool:
        return alert.cleared_at is None


class KpiAlertsApiView(RateLimitHeadersMixin, generics.ListAPIView):
    permission_classes = [SupervisorOrKpiClient]
    serializer_class = KpiAlertSerializer
    pagination_class = KpiApiPagination

    @extend_schema(
        operation_id="kpi_alerts_list",
        summary="Interval alerts, newest first",
        description="The ASA and queue-length alerts of the every-minute check: raised "
        "when a live figure went over its threshold, cleared when it came back. "
        "Supervisors, administrators and staff clients (`kpi:read`); business clients "
        "get 403.",
        parameters=[AlertsQuerySerializer],
        responses={200: KpiAlertSerializer(many=True), **SUPERVISOR_ERRORS},
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return []
        query = AlertsQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.kpi_api_alerts(open_only=query.validated_data["open"])
