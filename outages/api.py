"""REST API of `outages` for business integrations: the live outage status of the
account's supply points, and reporting an outage at one of them.

Callers are an OAuth client whose token carries `outages:read` (status) or
`outages:write` (report), acting for the account it is bound to, or a customer's
session that the portal's guard admits, with any membership role: anyone at a
business may say the power is off. A supply point of another account is a 404, never
a 403 or its data.
"""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api import ACCOUNT_PARAMETER, ERRORS, ScopeOrCustomer
from accounts.models import SupplyPoint
from accounts.oauth import api_client_of
from accounts.serializers import ApiErrorSerializer
from accounts.throttling import RateLimitHeadersMixin

from . import selectors_reporting as selectors
from .models import ReportKind
from .serializers import (
    ReportCreatedSerializer,
    ReportCreateSerializer,
    SupplyPointOutageSerializer,
)
from .services import InvalidInput
from .services.reports import report_submit

READ_SCOPE = "outages:read"
WRITE_SCOPE = "outages:write"
# What the reports service calls a field, as the API's body names it.
SERVICE_FIELDS = {"premise": "supply_point_id"}


class _OutagesApiMixin(RateLimitHeadersMixin):
    permission_classes = [ScopeOrCustomer]

    def caller(self) -> dict:
        return {
            "api_client": api_client_of(self.request),
            "user": self.request.user,
            "number": self.request.query_params.get("account"),
        }


class OutageStatusPagination(CursorPagination):
    ordering = "id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


@extend_schema_view(
    get=extend_schema(
        operation_id="outages_supply_points_list",
        summary="Outage status of the caller's supply points",
        description="Cursor-paginated, ordered by id. `outage` is the outage a supply point "
        "is part of now (a confirmed one before a suspected one), with its restoration "
        "estimate and when the next public update is due; null when supplied.",
        parameters=[ACCOUNT_PARAMETER],
        responses={200: SupplyPointOutageSerializer(many=True), **ERRORS},
    )
)
class SupplyPointOutageListView(_OutagesApiMixin, generics.ListAPIView):
    required_scopes = [READ_SCOPE]
    serializer_class = SupplyPointOutageSerializer
    pagination_class = OutageStatusPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return SupplyPoint.objects.none()
        points = selectors.api_outage_status(**self.caller())
        if points is None:
            raise NotFound()
        return points


class ReportCreateView(_OutagesApiMixin, APIView):
    required_scopes = [WRITE_SCOPE]

    @extend_schema(
        operation_id="outages_reports_create",
        summary="Report an outage at one of the caller's supply points",
        description="The report joins the outage already known at that place, or opens a "
        "suspected one for a dispatcher to confirm. Any hazard (smoke, sparks, humming, a "
        "fallen line, fire) makes it safety-critical: call `emergency_phone` at once too. "
        "A supply point of another account is a 404.",
        parameters=[ACCOUNT_PARAMETER],
        request=ReportCreateSerializer,
        responses={201: ReportCreatedSerializer, 400: ApiErrorSerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        serializer = ReportCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        caller = self.caller()
        point = selectors.api_report_supply_point(
            **caller,
            supply_point_id=data.get("supply_point_id"),
            identifier=data.get("supply_point_identifier", ""),
        )
        if point is None:
            raise NotFound()
        try:
            report = report_submit(
                kind=ReportKind.OUTAGE,
                now=timezone.now(),
                description=data["description"],
                hazards=data["hazards"],
                breakers_checked=data["breakers_checked"],
                account=point.premise.account,
                premise=point.premise,
                reporter=None if caller["api_client"] is not None else request.user,
            )
        except InvalidInput as exc:
            raise ValidationError(
                {
                    SERVICE_FIELDS.get(field, field): [message]
                    for field, message in exc.errors.items()
                }
            ) from exc
        return Response(ReportCreatedSerializer(report).data, status=status.HTTP_201_CREATED)
