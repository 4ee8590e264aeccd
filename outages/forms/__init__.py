"""Forms of the outages pages, one module per audience."""
