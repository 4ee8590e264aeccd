"""Self-service views (docs/self-service.md)."""
