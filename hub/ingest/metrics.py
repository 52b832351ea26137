"""Prometheus metrics of an ingest worker (served at /metrics by prometheus_client)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES = Counter("cityhub_ingest_messages_received_total", "MQTT messages received", ["kind"])
STORED = Counter("cityhub_ingest_records_stored_total", "Rows committed to the store", ["type"])
DUPLICATES = Counter(
    "cityhub_ingest_records_duplicate_total",
    "Rows already in the store (redelivery), not stored again",
    ["type"],
)
DEAD = Counter("cityhub_ingest_dead_lettered_total", "Payloads or records dead-lettered")
ACKED = Counter("cityhub_ingest_messages_acked_total", "Messages acknowledged after commit")
DROPPED_QOS0 = Counter("cityhub_ingest_qos0_dropped_total",
                       "QoS 0 messages dropped because the worker was backlogged (QoS 0 has no "
                       "flow control; data that matters is published at QoS 1)")
DB_ERRORS = Counter("cityhub_ingest_db_errors_total", "Failed batch writes (retried)")
BATCH_MESSAGES = Histogram(
    "cityhub_ingest_batch_messages",
    "Messages per committed batch",
    buckets=(1, 5, 10, 50, 100, 250, 500, 1000, 2500, 5000),
)
BATCH_RECORDS = Histogram(
    "cityhub_ingest_batch_records",
    "Records per committed batch",
    buckets=(1, 10, 100, 500, 1000, 5000, 10_000, 20_000, 50_000, 100_000),
)
ADAPT_SECONDS = Histogram(
    "cityhub_ingest_batch_adapt_seconds",
    "Time to adapt and validate a batch",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BATCH_SECONDS = Histogram(
    "cityhub_ingest_batch_commit_seconds",
    "Time to write and commit a batch",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
LAG = Histogram(
    "cityhub_ingest_lag_seconds",
    "From receipt of a message to its commit",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
EVENT_AGE = Gauge(
    "cityhub_ingest_event_age_seconds",
    "Commit time minus occurred_at of the newest event of the last batch",
)
PENDING = Gauge("cityhub_ingest_unacked_messages", "Messages received and not yet acknowledged")
CONNECTED = Gauge("cityhub_ingest_broker_connected", "1 while connected to the broker")
DB_UP = Gauge("cityhub_ingest_database_up", "0 while batch writes fail (back-pressure)")
