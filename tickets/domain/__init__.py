"""Pure rules of the tickets app: states, routing, business-time arithmetic."""
