"""REST API of `metering`: one supply point's consumption by hour, local day or local month.

Callers are an OAuth client whose token carries `readings:read` (acting for its account), or
a customer's session that the portal's guard admits (any membership role may read). A supply
point of another account is a 404. Hourly data needs the customer's active HOURLY_DATA
consent covering the "api" channel; without it: 403 `consent_required` (days and months
stay available). JSON is cursor-paginated; CSV (`Accept: text/csv` or `?format=csv`) is the
whole period, streamed.
"""

from __future__ import annotations

import base64
from datetime import datetime

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api import ACCOUNT_PARAMETER, ERRORS, ScopeOrCustomer
from accounts.oauth import api_client_of
from accounts.serializers import ApiErrorSerializer
from accounts.throttling import RateLimitHeadersMixin

from . import exports, selectors

READINGS_SCOPE = "readings:read"
PAGE_SIZE = 200
MAX_PAGE_SIZE = 1000


class CSVRenderer(BaseRenderer):
    """Only for content negotiation: the CSV itself is a StreamingHttpResponse."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):  # pragma: no cover
        raise NotImplementedError


def _encode_cursor(instant: datetime) -> str:
    return base64.urlsafe_b64encode(instant.isoformat().encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> datetime:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        instant = datetime.fromisoformat(base64.urlsafe_b64decode(padded).decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError({"cursor": ["Invalid cursor."]}) from exc
    if instant.tzinfo is None:
        raise ValidationError({"cursor": ["Invalid cursor."]})
    return instant


ROW_FIELDS = {
    "start": serializers.DateTimeField(help_text="Local time (Europe/Paris), inclusive"),
    "end": serializers.DateTimeField(help_text="Local time (Europe/Paris), exclusive"),
    "wh": serializers.IntegerField(),
    "kwh": serializers.CharField(help_text="3 decimals"),
    "quality": serializers.CharField(help_text="Worst quality of the hours in the row"),
    "readings": serializers.IntegerField(help_text="Hourly readings in the row"),
}


class ConsumptionView(RateLimitHeadersMixin, APIView):
    permission_classes = [ScopeOrCustomer]
    required_scopes = [READINGS_SCOPE]
    renderer_classes = [JSONRenderer, CSVRenderer]
    api_client_access = True

    def handle_exception(self, exc):
        # Errors are JSON whatever was negotiated (the CSV renderer renders nothing).
        response = super().handle_exception(exc)
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response

    @extend_schema(
        operation_id="supply_points_consumption",
        summary="Consumption of one supply point",
        description="By hour, local day or local month (Europe/Paris: a DST day has 23 or "
        "25 hours) in [period_from, period_to). Hourly data needs the customer's active "
        "consent (403 `consent_required` without it). JSON pages follow `next`; CSV "
        "(`Accept: text/csv` or `?format=csv`) streams the whole period with columns "
        "local_time, utc_time, kwh, quality.",
        parameters=[
            exports.ConsumptionQuerySerializer,
            OpenApiParameter("cursor", OpenApiTypes.STR, OpenApiParameter.QUERY),
            OpenApiParameter("page_size", OpenApiTypes.INT, OpenApiParameter.QUERY),
            ACCOUNT_PARAMETER,
        ],
        responses={
            200: inline_serializer(
                "ConsumptionPage",
                {
                    "supply_point": serializers.IntegerField(),
                    "group_by": serializers.CharField(),
                    "next": serializers.URLField(allow_null=True),
                    "results": inline_serializer("ConsumptionRow", ROW_FIELDS, many=True),
                },
            ),
            400: ApiErrorSerializer,
            **ERRORS,
        },
    )
    def get(self, request: Request, pk: int):
        query = exports.ConsumptionQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        point = selectors.api_supply_point(
            api_client=api_client_of(request),
            user=request.user,
            number=request.query_params.get("account"),
            supply_point_id=pk,
        )
        if point is None:
            raise NotFound()
        group_by = params["group_by"]
        if group_by == "hour" and not selectors.hourly_consent_active(
            supply_point_id=point.pk, channel="api", now=timezone.now()
        ):
            raise PermissionDenied(
                "The customer has not consented to sharing hourly data for this supply "
                "point; daily and monthly totals are available.",
                code="consent_required",
            )
        start, end = params["period_from"], params["period_to"]
        if request.accepted_renderer.format == "csv":
            response = StreamingHttpResponse(
                exports.consumption_csv(
                    supply_point_id=point.pk, start=start, end=end, group_by=group_by
                ),
                content_type="text/csv; charset=utf-8",
            )
            name = exports.export_filename(
                supply_point=point, start=start, end=end, group_by=group_by, ext="csv"
            )
            response["Content-Disposition"] = f'attachment; filename="{name}"'
            return response
        return Response(self._page(point=point, start=start, end=end, group_by=group_by))

    def _page(self, *, point, start: datetime, end: datetime, group_by: str) -> dict:
        try:
            size = int(self.request.query_params.get("page_size", PAGE_SIZE))
        except ValueError as exc:
            raise ValidationError({"page_size": ["A whole number."]}) from exc
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise ValidationError({"page_size": [f"Between 1 and {MAX_PAGE_SIZE}."]})
        cursor = self.request.query_params.get("cursor")
        page_start = max(start, _decode_cursor(cursor)) if cursor else start
        rows = selectors.consumption(
            supply_point_id=point.pk, start=page_start, end=end, group_by=group_by, limit=size + 1
        )
        more = len(rows) > size
        rows = rows[:size]
        next_url = None
        if more:
            query = self.request.query_params.copy()
            query["cursor"] = _encode_cursor(rows[-1].end)
            next_url = self.request.build_absolute_uri(f"{self.request.path}?{query.urlencode()}")
        return {
            "supply_point": point.pk,
            "group_by": group_by,
            "next": next_url,
            "results": [
                {
                    "start": row.start.isoformat(),
                    "end": row.end.isoformat(),
                    "wh": row.wh,
                    "kwh": f"{row.wh / 1000:.3f}",
                    "quality": row.quality,
                    "readings": row.readings,
                }
                for row in rows
            ],
        }
