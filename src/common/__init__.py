"""Small shared mechanisms with no knowledge of events (see docs/architecture.md)."""
