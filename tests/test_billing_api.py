"""GET /api/v1/invoices/, /invoices/<number>, /invoices/<number>/pdf and
/billing/export.csv: callers and scopes, other accounts, roles, pages, PDF, CSV."""

import csv
import io
import itertools
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from celery import current_app
from django.core.files.base import ContentFile

from accounts.models import MemberRole, Role
from billing.models import EntryKind, Invoice, InvoiceLine
from billing.services import invoices as services
from billing.services.ledger import ledger_post

from .factories import MembershipFactory
from .test_api_b2b import (  # noqa: F401 (the fixture isolates rate-limit keys)
    _ratelimit_keys,
    add_supply_points,
    assert_error,
    bearer,
    business_api_client,
)

PARIS = ZoneInfo("Europe/Paris")
URL = "/api/v1/invoices/"
EXPORT = "/api/v1/billing/export.csv"
_numbers = itertools.count(1)


def issued(account, *, day=date(2026, 3, 2), status="ISSUED", kind="INVOICE", point=None):
    """An issued invoice with two lines, written directly (the maths is tested elsewhere)."""
    point = point or add_supply_points(account, 1)[0]
    prefix = "FA" if kind == "INVOICE" else "AV"
    invoice = Invoice.objects.create(
        kind=kind,
        number=f"{prefix}-2026-{next(_numbers):06d}" if status != "DRAFT" else None,
        status=status,
        account=account,
        supply_point=point,
        period_start=date(2026, 2, 1),
        period_end=date(2026, 3, 1),
        issue_date=day if status != "DRAFT" else None,
        due_date=day.replace(day=16) if status != "DRAFT" else None,
        tariff_name="Tarif Base",
        consumption_kwh=Decimal("280.000"),
        total_net=Decimal("55.65"),
        total_vat=Decimal("11.13"),
        total_gross=Decimal("66.78"),
        created_at=datetime(2026, 3, 1, tzinfo=PARIS),
    )
    for position, (kind_, amount) in enumerate([("STANDING", "9.38"), ("ENERGY_BASE", "46.27")]):
        InvoiceLine.objects.create(
            invoice=invoice,
            position=position + 1,
            kind=kind_,
            label=kind_.title(),
            quantity=Decimal("28"),
            unit="jour",
            unit_price=Decimal("0.335"),
            amount=Decimal(amount),
            vat_rate=Decimal("0.2"),
            start=date(2026, 2, 1),
            end=date(2026, 3, 1),
        )
    return invoice


@pytest.fixture
def b2b(db, client):
    api_client, secret = business_api_client(scopes=["invoices:read", "billing:export"])
    return api_client.account, bearer(client, api_client, secret)


@pytest.fixture
def member(make_user):
    def make(role=MemberRole.HOLDER, **kwargs):
        user = make_user(Role.CUSTOMER)
        return user, MembershipFactory(user=user, role=role, **kwargs).account

    return make


@pytest.fixture
def pdf_requests(monkeypatch):
    calls = []
    record = staticmethod(lambda **kwargs: calls.append(kwargs))
    if services.PDF_TASK in current_app.tasks:
        monkeypatch.setattr(current_app.tasks[services.PDF_TASK], "delay", record)
    else:  # the PDF task belongs to another part of billing
        monkeypatch.setitem(
            current_app.tasks, services.PDF_TASK, type("T", (), {"delay": record})()
        )
    return calls


# --- List and detail --------------------------------------------------------------------


def test_client_lists_issued_and_cancelled_newest_first(client, b2b):
    account, headers = b2b
    older = issued(account, day=date(2026, 1, 5))
    newer = issued(account, day=date(2026, 3, 2))
    cancelled = issued(account, day=date(2026, 2, 3), status="CANCELLED")
    issued(account, status="DRAFT")
    issued(MembershipFactory().account)  # another account's
    response = client.get(URL, **headers)
    assert response.status_code == 200, response.content
    assert "RateLimit-Limit" in response
    body = response.json()
    assert [r["number"] for r in body["results"]] == [
        newer.number,
        cancelled.number,
        older.number,
    ]
    first = body["results"][0]
    assert first == {
        "number": newer.number,
        "kind": "INVOICE",
        "status": "ISSUED",
        "supply_point": newer.supply_point.identifier,
        "period_start": "2026-02-01",
        "period_end": "2026-03-01",
        "issue_date": "2026-03-02",
        "due_date": "2026-03-16",
        "tariff_name": "Tarif Base",
        "estimated": False,
        "consumption_kwh": "280.000",
        "total_net": "55.65",
        "total_vat": "11.13",
        "total_gross": "66.78",
        "credited_invoice": None,
        "pdf_ready": False,
    }


def test_list_is_cursor_paginated(client, b2b):
    account, headers = b2b
    made = [issued(account, day=date(2026, 1, 1 + i)) for i in range(5)]
    seen, url = [], f"{URL}?page_size=2"
    while url:
        body = client.get(url, **headers).json()
        seen += [r["number"] for r in body["results"]]
        url = body["next"]
    assert seen == [i.number for i in reversed(made)]


def test_detail_has_the_lines_and_the_credited_invoice(client, b2b):
    account, headers = b2b
    original = issued(account, status="CANCELLED")
    credit = issued(account, kind="CREDIT_NOTE", point=original.supply_point)
    Invoice.objects.filter(pk=credit.pk).update(credited_invoice=original)
    body = client.get(f"{URL}{credit.number}", **headers).json()
    assert body["kind"] == "CREDIT_NOTE"
    assert body["credited_invoice"] == original.number
    assert [(line["position"], line["kind"], line["amount"]) for line in body["lines"]] == [
        (1, "STANDING", "9.38"),
        (2, "ENERGY_BASE", "46.27"),
    ]
    assert body["written_off_kwh"] == "0.000" and body["last_year_kwh"] is None


def test_another_accounts_invoice_and_drafts_are_404(client, b2b):
    _, headers = b2b
    theirs = issued(MembershipFactory().account)
    draft = issued(b2b[0], status="DRAFT")
    Invoice.objects.filter(pk=draft.pk).update(number="FA-2026-DRAFT")
    for path in (
        f"{URL}{theirs.number}",
        f"{URL}{theirs.number}/pdf",
        f"{URL}FA-2026-DRAFT",
        f"{URL}FA-1999-000001",
    ):
        assert_error(client.get(path, **headers), 404, "not_found")
    assert_error(client.get(f"{URL}?account={theirs.account.number}", **headers), 404, "not_found")


# --- Callers, scopes and roles ------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", [URL, f"{URL}FA-2026-000001", EXPORT])
def test_anonymous_is_401(client, path):
    assert_error(client.get(path), 401, "not_authenticated")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("scopes", "path"),
    [
        (["tickets:write"], URL),
        (["billing:export"], URL),
        (["readings:read"], f"{URL}FA-2026-000001/pdf"),
        (["invoices:read"], f"{EXPORT}?period_from=2026-01-01&period_to=2026-02-01"),
    ],
)
def test_token_without_the_scope_is_403(client, scopes, path):
    api_client, secret = business_api_client(scopes=scopes)
    assert_error(client.get(path, **bearer(client, api_client, secret)), 403, "insufficient_scope")


@pytest.mark.parametrize("role", [MemberRole.HOLDER, MemberRole.OWNER, MemberRole.BILLING])
def test_members_who_may_see_billing_read_their_invoices(client, member, login, role):
    user, account = member(role)
    mine = issued(account)
    http = login(user)
    assert [r["number"] for r in http.get(URL).json()["results"]] == [mine.number]
    assert http.get(f"{URL}{mine.number}").json()["lines"]


def test_viewer_gets_no_billing_data(member, login):
    user, account = member(MemberRole.VIEWER)
    invoice = issued(account)
    http = login(user)
    for path in (
        URL,
        f"{URL}{invoice.number}",
        f"{URL}{invoice.number}/pdf",
        f"{EXPORT}?period_from=2026-01-01&period_to=2026-12-31",
    ):
        assert_error(http.get(path), 403, "permission_denied")


def test_staff_session_is_403(make_user, login, db):
    http = login(make_user(Role.AGENT, totp=True))
    assert_error(http.get(URL), 403, "permission_denied")


def test_customer_without_an_account_gets_404(make_user, login):
    assert_error(login(make_user(Role.CUSTOMER)).get(URL), 404, "not_found")


# --- Constant queries -----------------------------------------------------------------------


@pytest.mark.parametrize("caller", ["client", "session"])
def test_list_runs_a_constant_number_of_queries(
    client, member, login, django_assert_max_num_queries, caller
):
    if caller == "client":
        api_client, secret = business_api_client()
        account, headers, http = api_client.account, bearer(client, api_client, secret), client
    else:
        user, account = member()
        headers, http = {}, login(user)
    http.get(URL, **headers)  # warms the rate-limit parameter cache
    issued(account)
    with django_assert_max_num_queries(12) as small:
        assert len(http.get(URL, **headers).json()["results"]) == 1
    for i in range(30):
        issued(account, day=date(2026, 1, 1 + i % 28))
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(http.get(URL, **headers).json()["results"]) == 31


# --- PDF --------------------------------------------------------------------------------------


def test_pdf_not_built_yet_is_202_and_asks_for_it_once(
    client, b2b, pdf_requests, django_capture_on_commit_callbacks
):
    from django.core.cache import cache

    cache.clear()
    account, headers = b2b
    invoice = issued(account)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(f"{URL}{invoice.number}/pdf", **headers)
        again = client.get(f"{URL}{invoice.number}/pdf", **headers)
    assert response.status_code == again.status_code == 202
    assert response["Retry-After"] == "30"
    assert response.json() == {"status": "pending", "retry_after": 30}
    assert pdf_requests == [{"invoice_id": invoice.pk}]


def test_pdf_recorded_but_missing_from_storage_is_rebuilt(
    client, b2b, settings, tmp_path, pdf_requests, django_capture_on_commit_callbacks
):
    from django.core.cache import cache

    cache.clear()
    settings.MEDIA_ROOT = tmp_path
    account, headers = b2b
    invoice = issued(account)
    invoice.pdf.save(f"{invoice.number}.pdf", ContentFile(b"%PDF-1.7 facture"), save=True)
    invoice.pdf.storage.delete(invoice.pdf.name)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(f"{URL}{invoice.number}/pdf", **headers)
    assert response.status_code == 202
    assert pdf_requests == [{"invoice_id": invoice.pk}]


def test_pdf_is_the_stored_file(client, b2b, settings, tmp_path, pdf_requests):
    settings.MEDIA_ROOT = str(tmp_path)
    account, headers = b2b
    invoice = issued(account)
    invoice.pdf.save(f"{invoice.number}.pdf", ContentFile(b"%PDF-1.7 facture"), save=True)
    response = client.get(f"{URL}{invoice.number}/pdf", HTTP_ACCEPT="application/pdf", **headers)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert f'filename="{invoice.number}.pdf"' in response["Content-Disposition"]
    assert b"".join(response.streaming_content) == b"%PDF-1.7 facture"
    assert pdf_requests == []
    assert client.get(URL, **headers).json()["results"][0]["pdf_ready"] is True


# --- CSV export -------------------------------------------------------------------------------


def test_export_streams_invoices_and_ledger_entries_of_the_period(client, b2b):
    account, headers = b2b
    march = issued(account, day=date(2026, 3, 2))
    issued(account, day=date(2026, 4, 1))  # after the period
    issued(MembershipFactory().account, day=date(2026, 3, 2))  # not theirs
    ledger_post(
        account=account,
        kind=EntryKind.CHARGE,
        amount=march.total_gross,
        description=f"Facture {march.number}",
        now=datetime(2026, 3, 2, 9, tzinfo=PARIS),
        invoice=march,
    )
    # 31 March 23:30 in Paris is already summer time (UTC+2): still in March.
    ledger_post(
        account=account,
        kind=EntryKind.PAYMENT,
        amount=Decimal("20.00"),
        description="Virement",
        now=datetime(2026, 3, 31, 23, 30, tzinfo=PARIS),
    )
    ledger_post(
        account=account,
        kind=EntryKind.PAYMENT,
        amount=Decimal("5.00"),
        description="Avril",
        now=datetime(2026, 4, 1, 0, 30, tzinfo=PARIS),
    )
    response = client.get(f"{EXPORT}?period_from=2026-03-01&period_to=2026-04-01", **headers)
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f"facturation-{account.number}-20260301-20260401.csv" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["record"], r["reference"], r["amount"]) for r in rows] == [
        ("invoice", march.number, "66.78"),
        ("ledger", rows[1]["reference"], "66.78"),
        ("ledger", rows[2]["reference"], "-20.00"),
    ]
    assert rows[1]["invoice"] == march.number and rows[1]["kind"] == "CHARGE"
    assert rows[2]["day"] == "2026-03-31"
    assert rows[0]["total_net"] == "55.65" and rows[0]["period_start"] == "2026-02-01"


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("", {"period_from", "period_to"}),
        ("period_from=mars&period_to=2026-04-01", {"period_from"}),
        ("period_from=2026-04-01&period_to=2026-03-01", {"period_to"}),
        ("period_from=2024-01-01&period_to=2026-01-01", {"period_to"}),
    ],
)
def test_export_bad_input_is_a_field_error(client, b2b, query, fields):
    _, headers = b2b
    response = client.get(f"{EXPORT}?{query}", **headers)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert set(error["fields"]) == fields
