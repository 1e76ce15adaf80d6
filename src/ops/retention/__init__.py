"""Telemetry log retention: plan, then (with --apply) compress and delete safely."""
