"""Money that the energy ombudsman awards a customer, booked on their account.

The tickets app records the referral and the remedy (amount, deadline); when a supervisor
marks the remedy done, its hook calls `ombudsman_remedy_book`, in the same transaction,
so the remedy is never marked done without the money on the account."""

from __future__ import annotations

from datetime import datetime

from accounts.models import User
from billing.models import EntryKind, LedgerEntry
from tickets.models import Complaint

from .ledger import ledger_post


def ombudsman_remedy_book(
    *, complaint: Complaint, actor: User | None, now: datetime
) -> LedgerEntry | None:
    """Credit the remedy's amount (a COMPENSATION entry, once per complaint); nothing to
    book without an amount or an account."""
    amount = complaint.ombudsman_remedy_amount
    account_id = complaint.ticket.account_id
    if not amount or amount <= 0 or account_id is None:
        return None
    return ledger_post(
        account=complaint.ticket.account,
        kind=EntryKind.COMPENSATION,
        amount=amount,
        description=f"Réparation décidée par le médiateur ({complaint.ticket.reference})",
        now=now,
        source=f"ombudsman:{complaint.pk}",
        actor=actor,
    )
