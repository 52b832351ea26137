"""The store's configuration section (``store:`` in the cityhub YAML)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class StoreConfig(BaseModel):
    """Retention, partitioning and the accepted time window of incoming rows."""

    model_config = ConfigDict(extra="forbid")

    events_retention_days: int = Field(
        365,
        ge=1,
        le=36500,
        description="Events older than this are dropped (whole partitions/chunks).",
    )
    readings_retention_days: int = Field(
        90, ge=1, le=36500, description="Sensor readings older than this are dropped."
    )
    minute_rollup_retention_days: int = Field(
        35,
        ge=1,
        le=36500,
        description="Per-minute event counts kept this long (hourly follow events).",
    )
    wim_retention_days: int = Field(
        3650,
        ge=1,
        le=36500,
        description="Weigh-in-motion records (possible evidence) kept this long, "
        "independent of events.",
    )
    media_retention_days: int = Field(
        365,
        ge=1,
        le=36500,
        description="Pictures and clips copied from edge boxes (table ``media``) kept this long.",
    )
    dead_letter_retention_days: int = Field(
        30, ge=1, le=3650, description="Dead-lettered payloads kept this long for inspection."
    )
    max_backlog_days: int = Field(
        30,
        ge=1,
        le=36500,
        description="Rows whose time is older than this are dead-lettered instead of stored "
        "(longer than any edge box's offline buffer).",
    )
    max_future_skew_s: int = Field(
        300,
        ge=0,
        le=86400,
        description="Rows stamped further than this in the future (bad clocks) are dead-lettered.",
    )
    partitions_ahead_days: int = Field(
        14, ge=1, le=365, description="Plain PostgreSQL: partitions are created this far ahead."
    )
    compress_after_days: int = Field(
        7,
        ge=1,
        le=3650,
        description="TimescaleDB: chunks are compressed after this (longer than the edge backlog).",
    )
    latest_hint_interval_s: float = Field(
        2.0,
        ge=0,
        le=3600,
        description="How often a writer refreshes the latest-reading hints (``latest_readings``); "
        "a series seen for the first time is written at once. Queries stay exact either way: "
        "they add what arrived after the hint; a shorter interval only makes them cheaper.",
    )
    max_dead_letter_payload: int = Field(
        1_048_576,
        ge=1024,
        le=64 * 1_048_576,
        description="Dead-letter payloads are truncated to this many bytes (the size is kept).",
    )
