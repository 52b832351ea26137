"""The event and telemetry store (TimescaleDB when present, plain PostgreSQL when not)."""
