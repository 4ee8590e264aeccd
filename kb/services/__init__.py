"""Self-service services (docs/self-service.md)."""
