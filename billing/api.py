"""REST API of `billing`: the account's invoices, their PDFs, and a CSV export.

Callers are an OAuth client whose token carries `invoices:read` (or `billing:export` for
the export), acting for its account, or a customer's session that the portal's guard
admits and whose membership role may see billing (`view_billing`: VIEWER may not, 403).
An invoice of another account is a 404, never a 403.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from django.http import FileResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.pagination import CursorPagination
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors as account_selectors
from accounts.api import ACCOUNT_PARAMETER, ERRORS, ScopeOrCustomer
from accounts.domain import member_can
from accounts.models import Account
from accounts.oauth import api_client_of
from accounts.serializers import ApiErrorSerializer
from accounts.throttling import RateLimitHeadersMixin

from .models import Invoice
from .selectors import invoices as selectors
from .serializers import (
    ExportQuerySerializer,
    InvoiceDetailSerializer,
    InvoiceSummarySerializer,
    PdfPendingSerializer,
)
from .services.pdf import invoice_pdf_ensure

INVOICES_SCOPE = "invoices:read"
EXPORT_SCOPE = "billing:export"
PDF_RETRY_SECONDS = 30
CSV_ROWS_PER_CHUNK = 500


class _PassThroughRenderer(BaseRenderer):
    """Only for content negotiation: the body is a file or a stream, not rendered data."""

    def render(self, data, accepted_media_type=None, renderer_context=None):  # pragma: no cover
        raise NotImplementedError


class PDFRenderer(_PassThroughRenderer):
    media_type = "application/pdf"
    format = "pdf"
    charset = None


class CSVRenderer(_PassThroughRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"


class InvoicePagination(CursorPagination):
    ordering = ("-issue_date", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class _BillingApiMixin(RateLimitHeadersMixin):
    permission_classes = [ScopeOrCustomer]
    required_scopes = [INVOICES_SCOPE]

    def handle_exception(self, exc):
        # Errors are JSON whatever was negotiated (a PDF or CSV renderer renders nothing).
        response = super().handle_exception(exc)
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response

    def account(self) -> Account:
        """The caller's account: 404 without one; 403 if the member may not see billing."""
        number = self.request.query_params.get("account")
        api_client = api_client_of(self.request)
        if api_client is not None:
            if number is not None and number != api_client.account.number:
                raise NotFound()
            return api_client.account
        memberships = list(account_selectors.user_memberships(user=self.request.user))
        membership = memberships[0] if memberships else None
        if number is not None:
            membership = next((m for m in memberships if m.account.number == number), None)
        if membership is None:
            raise NotFound()
        if not member_can(membership.role, "view_billing"):
            raise PermissionDenied("Your role on this account may not see billing.")
        return membership.account

    def invoice(self) -> Invoice:
        invoice = selectors.account_invoice(
            account_id=self.account().pk, number=self.kwargs["number"]
        )
        if invoice is None:
            raise NotFound()
        return invoice


@extend_schema_view(
    get=extend_schema(
        operation_id="invoices_list",
        summary="Invoices of the caller's account",
        description="Issued and cancelled invoices and credit notes, newest first, "
        "cursor-paginated. Drafts are never shown.",
        parameters=[ACCOUNT_PARAMETER],
        responses={200: InvoiceSummarySerializer(many=True), **ERRORS},
    )
)
class InvoiceListView(_BillingApiMixin, generics.ListAPIView):
    serializer_class = InvoiceSummarySerializer
    pagination_class = InvoicePagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Invoice.objects.none()
        return selectors.account_invoices(account_id=self.account().pk)


@extend_schema_view(
    get=extend_schema(
        operation_id="invoices_retrieve",
        summary="One invoice with its lines",
        description="An invoice of another account is a 404.",
        parameters=[ACCOUNT_PARAMETER],
        responses={200: InvoiceDetailSerializer, **ERRORS},
    )
)
class InvoiceDetailView(_BillingApiMixin, generics.RetrieveAPIView):
    serializer_class = InvoiceDetailSerializer
    lookup_field = "number"

    def get_queryset(self):  # schema generation only: get_object asks the selector
        return Invoice.objects.none()

    def get_object(self) -> Invoice:
        return self.invoice()


class InvoicePdfView(_BillingApiMixin, APIView):
    renderer_classes = [JSONRenderer, PDFRenderer]

    @extend_schema(
        operation_id="invoices_pdf",
        summary="The invoice as PDF",
        description="The stored PDF. If it is not built yet, 202 with `Retry-After` "
        "(seconds) and the build is requested; ask again after that delay.",
        parameters=[ACCOUNT_PARAMETER],
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY),
            202: PdfPendingSerializer,
            **ERRORS,
        },
    )
    def get(self, request: Request, number: str):
        invoice = self.invoice()
        # A file recorded but gone from storage is rebuilt; reloads within the dedup
        # window enqueue nothing more.
        if invoice_pdf_ensure(invoice=invoice):
            return FileResponse(
                invoice.pdf.open("rb"),
                content_type="application/pdf",
                as_attachment=True,
                filename=f"{invoice.number}.pdf",
            )
        response = Response(
            {"status": "pending", "retry_after": PDF_RETRY_SECONDS},
            status=status.HTTP_202_ACCEPTED,
            headers={"Retry-After": str(PDF_RETRY_SECONDS)},
        )
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = JSONRenderer.media_type
        return response


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_chunks(rows: Iterable[selectors.ExportRow]) -> Iterator[bytes]:
    """Header first, then CSV_ROWS_PER_CHUNK rows per chunk, so the stream stays small."""
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    yield writer.writerow(selectors.EXPORT_COLUMNS).encode()
    batch = io.StringIO()
    buffered = csv.writer(batch, lineterminator="\r\n")
    count = 0
    for row in rows:
        buffered.writerow([getattr(row, name) for name in selectors.EXPORT_COLUMNS])
        count += 1
        if count == CSV_ROWS_PER_CHUNK:
            yield batch.getvalue().encode()
            batch.seek(0)
            batch.truncate()
            count = 0
    if count:
        yield batch.getvalue().encode()


class BillingExportView(_BillingApiMixin, APIView):
    required_scopes = [EXPORT_SCOPE]
    renderer_classes = [JSONRenderer, CSVRenderer]

    @extend_schema(
        operation_id="billing_export",
        summary="Invoices and ledger entries of a period, as CSV",
        description="Invoices issued and ledger entries booked in [period_from, period_to) "
        "(local days, at most 366), streamed. Columns: "
        + ", ".join(selectors.EXPORT_COLUMNS)
        + ". `record` is `invoice` or `ledger`; amounts are euros, signed from the "
        "customer's side (positive: owed).",
        parameters=[ExportQuerySerializer, ACCOUNT_PARAMETER],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR),
            400: ApiErrorSerializer,
            **ERRORS,
        },
    )
    def get(self, request: Request):
        account = self.account()
        query = ExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        start, end = query.validated_data["period_from"], query.validated_data["period_to"]
        response = StreamingHttpResponse(
            _csv_chunks(selectors.billing_export_rows(account_id=account.pk, start=start, end=end)),
            content_type="text/csv; charset=utf-8",
        )
        name = f"facturation-{account.number}-{start:%Y%m%d}-{end:%Y%m%d}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
