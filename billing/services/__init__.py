"""Billing writes, one module per area: `numbering` and `ledger` (shared primitives),
`invoices`, `disputes`, `account_money` (plans, extensions, assistance), `switching`."""
