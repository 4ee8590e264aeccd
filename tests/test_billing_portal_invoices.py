"""Portal invoice pages: the list with what is left to pay, the detail page (what the PDF
shows, the comparison, how to dispute), the PDF built on first demand while a page that
reloads itself waits, who may see and download what, and query counts."""

import itertools
from datetime import date, datetime, timedelta
from decimal import Decimal
from html import unescape
from zoneinfo import ZoneInfo

import pytest
import time_machine
from celery import current_app

from accounts.models import MemberRole, Role
from billing import domain
from billing.models import Invoice, InvoiceKind, InvoiceStatus
from billing.selectors import portal_invoices
from billing.services import pdf
from billing.services.ledger import ledger_post
from powernext.templatetags.formatting import money

from .factories import MembershipFactory
from .test_billing_pdf import make_invoice as pdf_make_invoice
from .test_billing_pdf import make_point as pdf_make_point

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 3, 10, 10, 0, tzinfo=PARIS)
LIST = "/portal/invoices/"

_identifiers = itertools.count(30000000000001)
_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def pdf_tasks(monkeypatch):
    """Record the PDF builds enqueued instead of sending them to a broker."""
    calls = []
    monkeypatch.setattr(
        current_app.tasks[pdf.PDF_TASK], "delay", lambda **kwargs: calls.append(kwargs)
    )
    return calls


def make_point(account):
    return pdf_make_point(account, identifier=str(next(_identifiers)))


def make_invoice(point, *, number=None, **kwargs):
    return pdf_make_invoice(point, number=number or f"FA-2026-{next(_numbers):06d}", **kwargs)


def monthly(point, *, months, last=date(2026, 2, 1), **kwargs):
    """One invoice per month up to `last`, oldest first, each issued two days after its
    period."""
    out = []
    for back in range(months - 1, -1, -1):
        start = domain.add_months(last, -back)
        end = domain.add_months(start, 1)
        out.append(
            make_invoice(point, period=(start, end), issue_date=end + timedelta(days=2), **kwargs)
        )
    return out


def customer(role=MemberRole.HOLDER, account=None):
    membership = MembershipFactory(role=role, **({"account": account} if account else {}))
    return membership.user, membership.account


def charge(invoice):
    ledger_post(
        account=invoice.account,
        kind="CHARGE",
        amount=invoice.total_gross,
        description=f"Facture {invoice.number}",
        invoice=invoice,
        now=NOW,
    )


def pay(account, amount):
    ledger_post(
        account=account, kind="PAYMENT", amount=Decimal(amount), description="Virement", now=NOW
    )


def page_numbers(response) -> list[str]:
    return [row.invoice.number for row in response.context["listing"].rows]


# --- The list -------------------------------------------------------------------------------


def test_list_shows_the_customers_documents_newest_first_and_never_a_draft(login):
    user, account = customer()
    point = make_point(account)
    older, newer = monthly(point, months=2, estimated=False)
    estimated = make_invoice(
        point,
        period=(date(2026, 3, 1), date(2026, 3, 8)),
        issue_date=date(2026, 3, 9),
        estimated=True,
    )
    draft = make_invoice(
        point,
        number="FA-2026-DRAFT1",
        status=InvoiceStatus.DRAFT,
        period=(date(2026, 3, 8), date(2026, 3, 9)),
        issue_date=date(2026, 3, 9),
    )

    response = login(user).get(LIST)

    assert response.status_code == 200
    assert page_numbers(response) == [estimated.number, newer.number, older.number]
    html = response.content.decode()
    assert draft.number not in html
    assert 'aria-current="page">Factures</a>' in html
    assert "<caption>" in html and 'scope="col"' in html and 'scope="row"' in html
    row = html[html.index(estimated.number) :]
    assert "Estimé" in row[: row.index("</tr>")]
    assert f'href="/portal/invoices/{newer.number}/"' in html
    assert f'href="/portal/invoices/{newer.number}/pdf/"' in html


def test_payments_settle_the_oldest_invoices_first(login):
    user, account = customer()
    point = make_point(account)
    first, second, third = monthly(point, months=3)  # due 17 January, 17 February, 17 March
    for invoice in (first, second, third):
        charge(invoice)
    # Everything of the first and half of the second is paid.
    pay(account, first.total_gross + (second.total_gross / 2).quantize(Decimal("0.01")))

    rows = {r.invoice.number: r for r in login(user).get(LIST).context["listing"].rows}

    assert rows[first.number].payment == portal_invoices.Payment.PAID
    assert rows[second.number].payment == portal_invoices.Payment.OVERDUE  # due in January
    assert rows[second.number].outstanding == second.total_gross - (
        second.total_gross / 2
    ).quantize(Decimal("0.01"))
    assert rows[third.number].payment == portal_invoices.Payment.DUE  # due 17 March
    assert rows[third.number].outstanding == third.total_gross


def test_what_is_left_to_pay_reaches_back_across_pages(login):
    user, account = customer()
    point = make_point(account)
    invoices = monthly(point, months=portal_invoices.PAGE_SIZE + 3, last=date(2026, 1, 1))
    for invoice in invoices:
        charge(invoice)
    oldest, second_oldest = invoices[0], invoices[1]
    # Unpaid: the newest PAGE_SIZE + 1 invoices and 10 € of the one before them.
    paid = sum((i.total_gross for i in invoices[:2]), Decimal(0)) - Decimal("10.00")
    pay(account, paid)
    client = login(user)

    first = client.get(LIST)
    last = client.get(LIST, {"page": 2})

    assert all(r.payment != "PAID" for r in first.context["listing"].rows)
    rows = last.context["listing"].rows
    assert [r.invoice.number for r in rows] == [i.number for i in reversed(invoices[:3])]
    assert rows[0].payment == "OVERDUE" and rows[0].outstanding == invoices[2].total_gross
    assert rows[1].outstanding == Decimal("10.00")
    assert rows[1].invoice == second_oldest and rows[2].invoice == oldest
    assert rows[2].payment == "PAID"
    assert 'rel="prev"' in last.content.decode() and "Page 2 sur 2" in last.content.decode()


def test_credit_notes_and_cancelled_invoices_say_so_and_take_nothing_of_the_balance(login):
    user, account = customer()
    point = make_point(account)
    cancelled = make_invoice(point, status=InvoiceStatus.CANCELLED)
    credit = make_invoice(
        point,
        kind=InvoiceKind.CREDIT_NOTE,
        credited=cancelled,
        sign=-1,
        last_year_kwh=None,
        number="AV-2026-000001",
    )
    replacement = make_invoice(point, issue_date=date(2026, 3, 4), kwh=Decimal("300.000"))
    charge(cancelled)
    ledger_post(
        account=account,
        kind="CREDIT",
        amount=cancelled.total_gross,
        description="Avoir",
        invoice=credit,
        now=NOW,
    )
    charge(replacement)
    client = login(user)

    rows = {r.invoice.number: r.payment for r in client.get(LIST).context["listing"].rows}
    assert rows == {
        replacement.number: "DUE",
        credit.number: "CREDIT",
        cancelled.number: "CANCELLED",
    }
    page = client.get(f"{LIST}{credit.number}/").content.decode()
    assert "Montant en votre faveur" in page
    assert f"Annule et remplace la facture {cancelled.number}" in page
    assert "Contester cette facture" not in page
    assert "annulée" in client.get(f"{LIST}{cancelled.number}/").content.decode()


def test_an_account_without_invoices_is_told_so(login):
    user, _account = customer()
    response = login(user).get(LIST)
    assert response.status_code == 200
    assert 'data-testid="no-invoice"' in response.content.decode()


# --- The detail page ------------------------------------------------------------------------


def test_detail_shows_what_the_pdf_shows_with_comparison_and_how_to_dispute(login):
    user, account = customer()
    point = make_point(account)
    invoice = make_invoice(point)  # issued 3 March 2026, 412 kWh against 455 a year earlier

    response = login(user).get(f"{LIST}{invoice.number}/")

    assert response.status_code == 200
    html = unescape(response.content.decode())
    flat = " ".join(html.split())
    assert response.context["doc"].invoice == invoice
    assert invoice.number in html and point.identifier in html
    assert "Base 9 kVA" in html  # the tariff
    assert "du 1 février 2026 au 28 février 2026" in flat  # the last day included
    assert "455 kWh" in html and "-9 %" in html  # same period last year
    assert "Abonnement" in html and "Accise sur l'électricité" in html
    assert f'data-testid="total-gross">{money(invoice.total_gross)}<' in html
    assert "index réels" in html
    assert 'data-chart="consumption"' in html and "Voir les chiffres" in html
    # How to dispute, until when, and the ombudsman's contact.
    assert "jusqu'au 2 mai 2026" in flat
    assert "Médiateur national de l'énergie" in html
    assert "www.energie-mediateur.fr" in html and "Libre réponse 59252" in html
    assert "Télécharger la facture (PDF)" in html
    assert f'href="/portal/invoices/{invoice.number}/pdf/"' in html
    assert f'href="/portal/disputes/new/?invoice={invoice.number}"' in html


def test_the_dispute_link_opens_the_form_prefilled_with_the_invoice(login):
    user, account = customer()
    invoice = make_invoice(make_point(account))
    client = login(user)
    detail = client.get(f"{LIST}{invoice.number}/").content.decode()
    href = f"/portal/disputes/new/?invoice={invoice.number}"
    assert f'href="{href}" data-testid="dispute-link"' in detail

    form = client.get(href).context["form"]

    assert form.initial["invoice_number"] == invoice.number
    assert form.initial["meter_point"] == invoice.supply_point.identifier


def test_after_the_window_the_page_says_to_call_instead_of_linking_the_form(login):
    user, account = customer()
    invoice = make_invoice(make_point(account), issue_date=date(2025, 12, 1))
    html = login(user).get(f"{LIST}{invoice.number}/").content.decode()
    assert 'data-testid="dispute-link"' not in html
    assert "pour contester cette facture en ligne est passé" in html
    assert "Médiateur national de l'énergie" in html


# --- Who may see what -----------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "FA-2026-000001/", "FA-2026-000001/pdf/"])
def test_anonymous_visitors_are_sent_to_log_in(client, suffix):
    response = client.get(f"{LIST}{suffix}")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_another_customers_invoice_is_a_404_and_never_shown(login, pdf_tasks):
    _owner, account = customer()
    theirs = make_invoice(make_point(account))
    stranger, _ = customer()
    client = login(stranger)

    for url in (f"{LIST}{theirs.number}/", f"{LIST}{theirs.number}/pdf/"):
        response = client.get(url)
        assert response.status_code == 404
        # The URL itself is echoed (the language switch's `next`), nothing of the invoice.
        assert theirs.supply_point.identifier.encode() not in response.content
        assert money(theirs.total_gross).encode() not in response.content
    assert theirs.number not in client.get(LIST).content.decode()
    assert pdf_tasks == []


def test_a_draft_is_never_shown_even_by_its_number(login, pdf_tasks):
    user, account = customer()
    draft = make_invoice(make_point(account), status=InvoiceStatus.DRAFT)
    client = login(user)
    assert client.get(f"{LIST}{draft.number}/").status_code == 404
    assert client.get(f"{LIST}{draft.number}/pdf/").status_code == 404
    assert draft.number not in client.get(LIST).content.decode()
    assert pdf_tasks == []


def test_a_viewer_reads_invoices_but_may_not_download_or_dispute(login, pdf_tasks):
    _owner, account = customer(MemberRole.OWNER)
    invoice = make_invoice(make_point(account))
    viewer, _ = customer(MemberRole.VIEWER, account=account)
    client = login(viewer)

    listing = client.get(LIST)
    detail = client.get(f"{LIST}{invoice.number}/")

    assert listing.status_code == 200 and invoice.number in listing.content.decode()
    assert f"/portal/invoices/{invoice.number}/pdf/" not in listing.content.decode()
    assert detail.status_code == 200
    html = detail.content.decode()
    assert "Télécharger la facture (PDF)" not in html and "/portal/disputes/new/" not in html
    assert "lecture seule" in html
    assert client.get(f"{LIST}{invoice.number}/pdf/").status_code == 403
    assert pdf_tasks == []


@pytest.mark.parametrize("role", [MemberRole.BILLING, MemberRole.OWNER])
def test_billing_members_and_owners_download(login, role):
    _holder, account = customer(MemberRole.ADMIN)
    invoice = make_invoice(make_point(account))
    pdf.invoice_pdf_build(invoice_id=invoice.pk, now=NOW)
    member, _ = customer(role, account=account)

    response = login(member).get(f"{LIST}{invoice.number}/pdf/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF")


def test_staff_are_refused_like_on_the_other_portal_pages(login, make_user):
    _user, account = customer()
    invoice = make_invoice(make_point(account))
    client = login(make_user(Role.AGENT))
    for url in (LIST, f"{LIST}{invoice.number}/", f"{LIST}{invoice.number}/pdf/"):
        assert client.get(url).status_code == 403
    assert client.get("/portal/money/").status_code == 403  # the same answer


# --- The PDF: built on first demand -----------------------------------------------------------


def test_missing_pdf_shows_a_waiting_page_and_enqueues_one_build_whatever_the_reloads(
    login, pdf_tasks, django_capture_on_commit_callbacks
):
    user, account = customer()
    invoice = make_invoice(make_point(account))
    client = login(user)
    url = f"{LIST}{invoice.number}/pdf/"

    for _reload in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.get(url)
        assert response.status_code == 202
        html = response.content.decode()
        assert "Votre facture est en préparation" in html
        assert '<meta http-equiv="refresh" content="4">' in html
        assert response["Retry-After"] == "4"
    assert pdf_tasks == [{"invoice_id": invoice.pk}]

    # The worker runs the task it was given; the next reload streams the file.
    from billing.tasks import invoice_pdf_task

    invoice_pdf_task.run(**pdf_tasks[0])
    response = client.get(url)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{invoice.number}.pdf"'
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    assert len(pdf_tasks) == 1


def test_a_recorded_file_that_vanished_is_built_again(
    login, pdf_tasks, django_capture_on_commit_callbacks
):
    from django.core.files.storage import default_storage

    user, account = customer()
    invoice = make_invoice(make_point(account))
    built = pdf.invoice_pdf_build(invoice_id=invoice.pk, now=NOW)
    default_storage.delete(built.pdf.name)
    client = login(user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(f"{LIST}{invoice.number}/pdf/")

    assert response.status_code == 202
    assert pdf_tasks == [{"invoice_id": invoice.pk}]


def test_a_file_replaced_between_the_check_and_the_opening_gives_the_waiting_page(
    login, monkeypatch
):
    from django.core.files.storage import default_storage

    user, account = customer()
    invoice = make_invoice(make_point(account))
    built = pdf.invoice_pdf_build(invoice_id=invoice.pk, now=NOW)
    default_storage.delete(built.pdf.name)  # as a forced rebuild does once it commits
    monkeypatch.setattr(pdf, "invoice_pdf_ensure", lambda *, invoice: True)

    response = login(user).get(f"{LIST}{invoice.number}/pdf/")

    assert response.status_code == 202
    assert "Votre facture est en préparation" in response.content.decode()


# --- Query counts ---------------------------------------------------------------------------


def test_list_and_detail_keep_a_constant_number_of_queries(login, django_assert_max_num_queries):
    user, account = customer()
    point = make_point(account)
    monthly(point, months=2, last=date(2026, 1, 1))
    client = login(user)
    latest = make_invoice(point)

    with django_assert_max_num_queries(10) as small_list:
        assert client.get(LIST).status_code == 200
    with django_assert_max_num_queries(14) as small_detail:
        assert client.get(f"{LIST}{latest.number}/").status_code == 200

    for invoice in monthly(point, months=40, last=date(2025, 11, 1)):
        charge(invoice)
    second = make_point(account)
    for _ in range(5):
        make_invoice(second, period=(date(2026, 2, 1), date(2026, 3, 1)))

    with django_assert_max_num_queries(len(small_list.captured_queries)):
        big = client.get(LIST)
    assert len(big.context["listing"].rows) == portal_invoices.PAGE_SIZE
    with django_assert_max_num_queries(len(small_detail.captured_queries)):
        assert client.get(f"{LIST}{latest.number}/").status_code == 200
    assert Invoice.objects.filter(account=account).count() == 48
