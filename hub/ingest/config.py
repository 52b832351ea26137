"""The ``ingest:`` section of the cityhub configuration."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class IngestConfig(BaseModel):
    """How MQTT ingest workers consume, batch and acknowledge."""

    model_config = ConfigDict(extra="forbid")

    topic_root: str = Field(
        "city",
        pattern=r"^[a-z][a-z0-9_-]{0,31}$",
        description="First topic level of the scheme (city/{dept}/{site}/...).",
    )
    share_group: str = Field(
        "cityhub-ingest",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="MQTT shared-subscription group: workers in one group "
        "split the messages between them.",
    )
    client_id_prefix: str = Field(
        "cityhub-ingest",
        pattern=r"^[A-Za-z0-9_-]{1,48}$",
        description="Worker i connects as '<prefix>-<i>'; a restarted "
        "worker reuses its id and so resumes its broker session.",
    )
    session_expiry_s: int = Field(
        86_400,
        ge=0,
        le=30 * 86_400,
        description="How long the broker keeps a worker's session and queued messages while "
        "it is away (crash, restart).",
    )
    receive_maximum: int = Field(
        2000,
        ge=10,
        le=65_535,
        description="Unacknowledged messages the broker may send a worker: bounds its memory "
        "and is the back-pressure when the database is slow or down.",
    )
    batch_max_messages: int = Field(
        1000, ge=1, le=65_535, description="A batch is flushed when it holds this many messages..."
    )
    batch_max_bytes: int = Field(
        8 * 1024 * 1024,
        ge=1024,
        le=256 * 1024 * 1024,
        description="...or this many payload bytes (the store's cost per batch favours large "
        "batches: 8 MiB measured twice as fast as 1 MiB for event packs)...",
    )
    batch_max_delay_ms: int = Field(
        200, ge=1, le=60_000, description="...or when its oldest message waited this long."
    )
    retry_max_delay_s: float = Field(
        5.0,
        gt=0,
        le=300,
        description="Longest pause between retries while the database "
        "is unreachable (back-off doubles up to this).",
    )
    local_timezone: str = Field(
        "Asia/Shanghai",
        description="Zone of payloads carrying local times without an offset "
        "(GB/T 28181 AlarmTime, some ISAPI devices).",
    )
    metrics_host: str = Field(
        "127.0.0.1", description="Address of the workers' Prometheus /metrics."
    )
    metrics_port: int = Field(
        9108,
        ge=0,
        le=65_535,
        description="Port of worker 0's /metrics; worker i uses port + i. 0 disables the endpoint.",
    )
