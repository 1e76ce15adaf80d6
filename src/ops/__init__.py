"""Operations tooling for the telemetry logs: retention (compress, delete) and health."""
