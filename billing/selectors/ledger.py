"""Reads of the ledger: the balance is always computed from the entries."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Sum

from billing.models import LedgerEntry


def account_balance(*, account_id: int) -> Decimal:
    """What the customer owes (positive) or has in credit (negative), to the cent."""
    total = LedgerEntry.objects.filter(account_id=account_id).aggregate(total=Sum("amount"))
    return total["total"] or Decimal("0.00")
