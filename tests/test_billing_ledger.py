"""Gapless invoice numbers and the ledger primitives."""

import threading
from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest
from django.db import connection, transaction

from billing.models import EntryKind, LedgerEntry
from billing.selectors.ledger import account_balance
from billing.services.ledger import LedgerError, ledger_post
from billing.services.numbering import invoice_number_next

from .factories import AccountFactory

NOW = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # the night Paris moves to summer time


def take(kind="INVOICE", day=date(2026, 3, 29)):
    with transaction.atomic():
        return invoice_number_next(kind=kind, issued_on=day)


def test_numbers_follow_each_other_per_year_and_kind(db):
    assert [take(), take()] == ["FA-2026-000001", "FA-2026-000002"]
    assert take("CREDIT_NOTE") == "AV-2026-000001"
    assert take(day=date(2027, 1, 1)) == "FA-2027-000001"
    assert take() == "FA-2026-000003"


def test_a_rolled_back_issue_gives_its_number_back(db):
    take()
    with pytest.raises(RuntimeError), transaction.atomic():
        assert invoice_number_next(kind="INVOICE", issued_on=date(2026, 5, 1)) == "FA-2026-000002"
        raise RuntimeError("rendering failed")
    assert take() == "FA-2026-000002"  # no gap


@pytest.mark.django_db(transaction=True)
def test_a_number_outside_a_transaction_is_refused():
    with pytest.raises(RuntimeError, match=r"inside transaction\.atomic"):
        invoice_number_next(kind="INVOICE", issued_on=date(2026, 5, 1))


@pytest.mark.django_db(transaction=True)
def test_concurrent_issuers_get_distinct_numbers_without_gaps():
    numbers, errors = [], []
    barrier = threading.Barrier(8)

    def worker():
        try:
            barrier.wait()
            for _ in range(10):
                numbers.append(take())
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(numbers) == [f"FA-2026-{n:06d}" for n in range(1, 81)]


def test_ledger_signs_and_balance(db):
    account = AccountFactory()
    ledger_post(
        account=account, kind=EntryKind.CHARGE, amount=D("120.40"), description="Facture", now=NOW
    )
    ledger_post(
        account=account, kind=EntryKind.PAYMENT, amount=D("100"), description="Virement", now=NOW
    )
    ledger_post(
        account=account, kind=EntryKind.CREDIT, amount=D("30.005"), description="Avoir", now=NOW
    )
    assert account_balance(account_id=account.pk) == D("-9.61")  # 120.40 − 100 − 30.01
    ledger_post(
        account=account,
        kind=EntryKind.REFUND,
        amount=D("9.61"),
        description="Remboursement",
        now=NOW,
    )
    assert account_balance(account_id=account.pk) == D("0.00")
    assert account_balance(account_id=AccountFactory().pk) == D("0.00")
    ids = list(LedgerEntry.objects.values_list("txn_id", flat=True))
    assert len(set(ids)) == 4 and all(i.startswith("TX-20260329-") for i in ids)


def test_the_same_source_is_booked_once(db):
    account = AccountFactory()
    first = ledger_post(
        account=account,
        kind="CREDIT",
        amount=D(50),
        description="Litige",
        now=NOW,
        source="dispute:1",
    )
    again = ledger_post(
        account=account,
        kind="CREDIT",
        amount=D(50),
        description="Litige",
        now=NOW,
        source="dispute:1",
    )
    assert again.pk == first.pk
    assert account_balance(account_id=account.pk) == D("-50.00")


@pytest.mark.parametrize("amount", [D(0), D("-5"), D("0.004")])
def test_a_movement_is_a_positive_amount(db, amount):
    with pytest.raises(LedgerError):
        ledger_post(
            account=AccountFactory(), kind="PAYMENT", amount=amount, description="x", now=NOW
        )
    assert LedgerEntry.objects.count() == 0
