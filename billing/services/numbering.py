"""Gapless invoice numbers: one counter row per year, locked while a number is taken.

The number is taken inside the caller's transaction, so an invoice that fails to be
issued rolls its number back with it and the next invoice takes it: no gaps. The price
is that issuing is serialised per year on that row, for the few milliseconds between
taking the number and committing."""

from __future__ import annotations

from datetime import date

from django.db import connection, transaction

PREFIX = {"INVOICE": "FA", "CREDIT_NOTE": "AV"}


def invoice_number_next(*, kind: str, issued_on: date) -> str:
    """The next number of `kind` for the year of `issued_on`, e.g. FA-2026-000042.

    Must run inside a transaction (`transaction.atomic`); raises otherwise, since a number
    taken outside one could be lost."""
    if not connection.in_atomic_block:
        raise RuntimeError("invoice_number_next must run inside transaction.atomic().")
    prefix = PREFIX[kind]
    # Invoices and credit notes keep separate, each gapless, sequences: the key mixes the
    # kind in (1 for invoices, 2 for credit notes) above the year.
    key = issued_on.year + (0 if kind == "INVOICE" else 10000)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO billing_invoicesequence (year, last) VALUES (%s, 1)
            ON CONFLICT (year) DO UPDATE SET last = billing_invoicesequence.last + 1
            RETURNING last
            """,
            [key],
        )
        (last,) = cursor.fetchone()
    return f"{prefix}-{issued_on.year}-{last:06d}"


__all__ = ["invoice_number_next", "transaction"]
