"""Self-service selectors (docs/self-service.md)."""
