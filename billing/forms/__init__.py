"""Billing forms, one module per area."""
