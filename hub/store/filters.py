"""Query parameters of the store, validated (the API can take them straight as its models).

The time range is required and bounded so that no request scans months of
raw rows by accident; counts are widened to whole buckets so that rollups and
raw rows give the same answers.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from adapters.model import AwareDatetime, Severity
from core.model import Ident, SourceSystem

#: Longest time range one query may cover.
MAX_SPAN = timedelta(days=400)
#: Most buckets one count or series query may return.
MAX_BUCKETS = 50_000
BUCKETS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
#: date_bin origin: buckets are aligned in UTC.
ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)

Names = Annotated[list[Ident], Field(min_length=1, max_length=500)]
AttrValue = str | int | float | bool


def align(start: datetime, end: datetime, width: timedelta) -> tuple[datetime, datetime]:
    """The range widened to whole buckets of ``width`` (aligned at ORIGIN)."""
    return (
        ORIGIN + ((start - ORIGIN) // width) * width,
        ORIGIN + -((ORIGIN - end) // width) * width,
    )


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BBox(_Model):
    """A WGS-84 box; events without a location never match one."""

    min_lat: float = Field(ge=-90, le=90)
    min_lon: float = Field(ge=-180, le=180)
    max_lat: float = Field(ge=-90, le=90)
    max_lon: float = Field(ge=-180, le=180)

    @model_validator(mode="after")
    def _ordered(self) -> BBox:
        if self.min_lat > self.max_lat or self.min_lon > self.max_lon:
            raise ValueError("bbox: min must not exceed max")
        return self


class TimeRange(_Model):
    start: AwareDatetime = Field(description="Inclusive start (with time zone).")
    end: AwareDatetime = Field(description="Exclusive end (with time zone).")

    @model_validator(mode="after")
    def _bounded(self) -> TimeRange:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if self.end - self.start > MAX_SPAN:
            raise ValueError(f"time range longer than {MAX_SPAN.days} days")
        return self


class EventFilter(TimeRange):
    """Which events: every field that is set narrows the result."""

    kinds: Names | None = None
    source_systems: Annotated[list[SourceSystem], Field(min_length=1, max_length=20)] | None = None
    sites: Names | None = None
    cameras: Names | None = None
    departments: Names | None = None
    min_severity: Severity | None = None
    bbox: BBox | None = None
    attributes: (
        Annotated[
            dict[Annotated[str, StringConstraints(min_length=1, max_length=64)], AttrValue],
            Field(min_length=1, max_length=10),
        ]
        | None
    ) = Field(
        None,
        description="Attributes the event must carry with these values, e.g. {'plate': 'LU1234'}.",
    )


class Cursor(_Model):
    occurred_at: datetime
    id: UUID

    def encode(self) -> str:
        raw = f"{self.occurred_at.isoformat()}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
            at, _, ident = raw.partition("|")
            value = datetime.fromisoformat(at)
            if value.tzinfo is None:
                raise ValueError("naive")
            return cls(occurred_at=value, id=UUID(ident))
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise ValueError("invalid cursor") from exc


class EventQuery(EventFilter):
    limit: int = Field(100, ge=1, le=1000, description="Events per page.")
    cursor: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        None, description="next_cursor of the previous page."
    )

    @field_validator("cursor")
    @classmethod
    def _cursor_valid(cls, value: str | None) -> str | None:
        if value is not None:
            Cursor.decode(value)
        return value


class CountQuery(EventFilter):
    bucket: Literal["minute", "hour", "day"] = "hour"
    group_by: Literal["kind", "site", "source_system", "department"] | None = None

    @model_validator(mode="after")
    def _few_buckets(self) -> CountQuery:
        if (self.end - self.start) / BUCKETS[self.bucket] > MAX_BUCKETS:
            raise ValueError(f"more than {MAX_BUCKETS} {self.bucket} buckets: use a wider bucket")
        return self

    def aligned(self) -> tuple[datetime, datetime]:
        return align(self.start, self.end, BUCKETS[self.bucket])


class SeriesQuery(TimeRange):
    sensor: Ident
    metric: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    bucket: Literal["raw", "minute", "hour", "day"] = "raw"
    limit: int = Field(10_000, ge=1, le=MAX_BUCKETS, description="Most points returned.")
