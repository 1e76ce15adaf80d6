"""Health check of the telemetry root: disk, parse errors, retention, writer errors."""
