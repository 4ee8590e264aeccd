"""Pure Python rules of self-service: article states, search query expansion, intents,
entities and the safety rule (no Django; import-linter checks)."""
