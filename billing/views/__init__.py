"""Billing pages, one module per area."""
