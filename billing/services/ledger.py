"""The ledger: every movement is a row with a transaction ID; the balance is their sum.

`ledger_post` is the only writer. A movement that settles something (a dispute's
credit, an approved request, an instalment) carries a `source` key, unique in the table:
posting the same source twice returns the first entry instead of booking it again,
whichever process or thread tries."""

from __future__ import annotations

import secrets
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction

from accounts.models import Account, User
from billing.domain import money
from billing.models import EntryKind, Invoice, LedgerEntry

# Sign of each kind from the customer's side: +1 owed, -1 paid or credited.
SIGN = {
    EntryKind.CHARGE: 1,
    EntryKind.DEPOSIT: 1,
    EntryKind.RECONNECTION_FEE: 1,
    EntryKind.DIAGNOSTIC_FEE: 1,
    EntryKind.REFUND: 1,  # money paid back to the customer raises what they owe back to 0
    EntryKind.PAYMENT: -1,
    EntryKind.CREDIT: -1,
    EntryKind.ASSISTANCE_CREDIT: -1,
    EntryKind.COMPENSATION: -1,
}


class LedgerError(Exception):
    pass


def new_txn_id(now: datetime) -> str:
    """TX-YYYYMMDD-<10 hex>: sortable by day, unguessable, unique (checked by the DB)."""
    return f"TX-{now:%Y%m%d}-{secrets.token_hex(5).upper()}"


def ledger_post(
    *,
    account: Account,
    kind: str,
    amount: Decimal,
    description: str,
    now: datetime,
    invoice: Invoice | None = None,
    source: str | None = None,
    actor: User | None = None,
) -> LedgerEntry:
    """Book a movement of `amount` (positive euros; the kind gives the sign)."""
    amount = money(amount)
    if amount <= 0:
        raise LedgerError("A ledger movement is a positive amount; its kind gives the sign.")
    signed = amount * SIGN[EntryKind(kind)]
    try:
        with transaction.atomic():
            return LedgerEntry.objects.create(
                txn_id=new_txn_id(now),
                account=account,
                kind=kind,
                amount=signed,
                at=now,
                invoice=invoice,
                description=description[:200],
                created_by=actor,
                source=source,
            )
    except IntegrityError:
        if source is None:
            raise
        # Someone booked this source first (a concurrent approval, a replayed task).
        return LedgerEntry.objects.get(source=source)
