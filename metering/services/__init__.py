"""Writes of the metering app, one module per concern; import from here."""
