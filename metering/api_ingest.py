"""Push endpoint of the head-end: `POST /api/v1/readings/intervals`.

OAuth clients only (client credentials), whose token carries `readings:write`; a session
is refused (403). The body is CSV (`Content-Type: text/csv`, the columns and header of
`metering.services.ingestion`) or JSON `{"rows": [{"market", "identifier", "start_utc",
"wh", "quality"}, ...]}`. Every supply point must belong to the client's account; any
other is reported as an unknown supply point on its line.

A batch with any bad line is refused whole with 400 in the uniform error format, one
entry per bad line in `fields`: `{"line 3": ["unknown supply point"]}` for CSV (the header
is line 1), `{"rows[0]": [...]}` for JSON (index in the list). Nothing is written then.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from oauth2_provider.contrib.rest_framework import TokenHasScope
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api import ERRORS
from accounts.oauth import api_client_of
from accounts.serializers import ApiErrorSerializer
from accounts.throttling import RateLimitHeadersMixin

from .services.ingestion import IntervalBatchRejected, interval_batch_ingest, rows_to_csv

WRITE_SCOPE = "readings:write"


class CsvParser(BaseParser):
    """`text/csv` bodies, handed on as the raw bytes."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None) -> bytes:
        return stream.read() if stream is not None else b""


class ApiClientWithScope(TokenHasScope):
    """Only an OAuth client whose token carries the view's `required_scopes`."""

    def has_permission(self, request, view) -> bool:
        if api_client_of(request) is None:
            return False
        if request.auth.allow_scopes(self.get_scopes(request, view)):
            return True
        self.message = f"This token does not carry the {WRITE_SCOPE} scope."
        self.code = "insufficient_scope"
        return False


class IntervalPushView(RateLimitHeadersMixin, APIView):
    permission_classes = [ApiClientWithScope]
    required_scopes = [WRITE_SCOPE]
    parser_classes = [CsvParser, JSONParser]

    @extend_schema(
        operation_id="readings_intervals_push",
        summary="Push hourly interval data",
        description=__doc__,
        request={"text/csv": OpenApiTypes.STR, "application/json": OpenApiTypes.OBJECT},
        responses={200: OpenApiTypes.OBJECT, 400: ApiErrorSerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        client = api_client_of(request)
        data = request.data
        json_rows = not isinstance(data, bytes)
        if json_rows:
            rows = data.get("rows") if isinstance(data, dict) else None
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                raise ValidationError({"rows": ["Expected a list of objects."]})
            source = rows_to_csv(rows)
        else:
            if not data.strip():
                raise ParseError("The body is empty.")
            from io import BytesIO

            source = BytesIO(data)
        try:
            summary = interval_batch_ingest(source=source, account_id=client.account_id)
        except IntervalBatchRejected as exc:
            fields = {}
            for error in exc.errors:
                key = f"rows[{error.line - 2}]" if json_rows and error.line >= 2 else None
                fields[key or f"line {error.line}"] = list(error.reasons)
            if exc.total > len(exc.errors):
                fields["non_field_errors"] = [
                    f"{exc.total} problems in all; the first {len(exc.errors)} are listed."
                ]
            raise ValidationError(fields) from exc
        return Response(
            {
                "rows": summary.rows,
                "inserted": summary.inserted,
                "updated": summary.updated,
                "unchanged": summary.unchanged,
            }
        )
