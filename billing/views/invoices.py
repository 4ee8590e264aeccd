"""The customer's invoices in the portal: the list, one invoice as its PDF shows it, and
the PDF itself, built by a worker on first demand while the customer waits on a page
that reloads itself.

Every member of the account may read its invoices; downloading the PDF (and disputing)
takes `view_billing`, which a VIEWER lacks: 403, like the other billing pages."""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts.access import customer_required, portal_membership
from accounts.domain import member_can
from billing.selectors import invoices as invoice_selectors
from billing.selectors import portal_invoices as selectors
from billing.services import pdf

READ = "view"
BILLING = "view_billing"
# Long enough for a worker to render one PDF (well under a second), short enough that
# the customer does not wait on a file that is already there.
PENDING_REFRESH_SECONDS = 4


def _membership(request: HttpRequest, require: str):
    membership = portal_membership(request, require=require)
    if membership is None:
        raise Http404
    return membership


@customer_required
def invoice_list(request: HttpRequest) -> HttpResponse:
    membership = _membership(request, READ)
    listing = selectors.customer_invoice_page(
        account_id=membership.account_id,
        page_number=request.GET.get("page"),
        today=timezone.localdate(),
    )
    return render(
        request,
        "billing/invoices/list.html",
        {"listing": listing, "can_billing": member_can(membership.role, BILLING)},
    )


@customer_required
def invoice_detail(request: HttpRequest, number: str) -> HttpResponse:
    membership = _membership(request, READ)
    view = selectors.customer_invoice(
        account_id=membership.account_id, number=number, today=timezone.localdate()
    )
    if view is None:
        raise Http404
    doc = pdf.invoice_document(invoice=view.row.invoice)
    return render(
        request,
        "billing/invoices/detail.html",
        {
            "row": view.row,
            "doc": doc,
            "open_dispute": view.open_dispute,
            "can_billing": member_can(membership.role, BILLING),
            "can_dispute": view.disputable,
        },
    )


@customer_required
def invoice_pdf(request: HttpRequest, number: str) -> HttpResponse:
    membership = _membership(request, BILLING)
    invoice = invoice_selectors.account_invoice(account_id=membership.account_id, number=number)
    if invoice is None:
        raise Http404
    if pdf.invoice_pdf_ensure(invoice=invoice):
        try:
            stored = invoice.pdf.open("rb")
        except FileNotFoundError:
            # A forced rebuild replaced the file since the check: the reload finds the new one.
            pass
        else:
            return FileResponse(
                stored,
                content_type="application/pdf",
                as_attachment=True,
                filename=f"{invoice.number}.pdf",
            )
    response = render(
        request,
        "billing/invoices/pdf_pending.html",
        {"invoice": invoice, "refresh_seconds": PENDING_REFRESH_SECONDS},
        status=202,
    )
    response["Retry-After"] = str(PENDING_REFRESH_SECONDS)
    return response
