"""Billing reads, one module per area."""
