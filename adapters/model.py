"""The one event and reading model every source system is turned into.

Adapters produce these; the edge agent publishes them; the hub's ingest
validates them again (nothing from the wire is trusted) and stores them.
Unknown fields from a source are kept in ``attributes``/``extra`` rather than
dropped, because a department's integrator may rely on them later.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Annotated, Any, NamedTuple
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from uuid6 import uuid7

from core.model import Ident, Location, SourceSystem

#: Times outside [2000, 2100) are a wrong device clock, never an observation.
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a time zone (naive local times are ambiguous)")
    if not EARLIEST_YEAR - 1 <= value.year <= LATEST_YEAR:  # before converting: 9999 overflows
        raise ValueError(f"time is outside {EARLIEST_YEAR}..{LATEST_YEAR - 1}")
    utc = value.astimezone(UTC)
    if not EARLIEST_YEAR <= utc.year < LATEST_YEAR:
        raise ValueError(f"time is outside {EARLIEST_YEAR}..{LATEST_YEAR - 1}")
    return utc


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]

#: One line of printable text: no C0/C1 control, line separator, zero-width or bidirectional
#: override character (they make a plate or name read differently on screen than stored).
_LINE = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]*$"


def new_event_id() -> UUID:
    """A time-ordered id (UUIDv7), generated where the event is first seen."""
    return uuid7()


def utcnow() -> datetime:
    return datetime.now(UTC)


class Severity(enum.IntEnum):
    info = 0
    minor = 1
    major = 2
    critical = 3


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, str_strip_whitespace=True)


class MediaRef(_Strict):
    """A picture, snapshot or clip that belongs to an event, pinned by its hash."""

    kind: Annotated[str, StringConstraints(pattern=r"^(snapshot|clip|picture|plate)$")]
    uri: Annotated[str, StringConstraints(min_length=1, max_length=2048, pattern=_LINE)]
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] | None = None
    content_type: Annotated[str, StringConstraints(max_length=100, pattern=_LINE)] | None = None


class WeighInMotion(_Strict):
    """Typed weigh-in-motion record: kept in typed columns since it may become evidence."""

    station: Ident
    lane: int = Field(ge=0, le=32)
    plate: Annotated[str, StringConstraints(max_length=16, pattern=_LINE)] | None = None
    gross_kg: float = Field(gt=0, le=300_000)
    axle_count: int = Field(ge=2, le=12)
    #: Per axle; ``None`` where the station did not weigh that axle.
    axle_weights_kg: list[Annotated[float, Field(ge=0, le=100_000)] | None] = Field(max_length=12)
    speed_kmh: float = Field(ge=0, le=250)
    calibration_id: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=_LINE)]
    limit_kg: float = Field(gt=0, le=300_000)
    overweight: bool
    excess_ratio: float = Field(ge=0, description="(gross - limit) / limit when overweight, else 0")


class Event(_Strict):
    """Something that happened at a site: an alarm, a plate read, a case, a crossing."""

    id: UUID = Field(default_factory=new_event_id, description="UUIDv7 made at the source")
    occurred_at: AwareDatetime
    source_system: SourceSystem
    kind: Ident
    severity: Severity = Severity.info
    department: Ident
    site: Ident
    camera: Ident | None = None
    device: Ident | None = None
    location: Location | None = None
    attributes: dict[str, Any] = Field(default_factory=dict, max_length=200)
    media: list[MediaRef] = Field(default_factory=list, max_length=32)
    wim: WeighInMotion | None = None


#: Reading fields beside ``value`` (RFC 8428 4.2: sum, boolean, string, data, update time).
EXTRA_FIELDS = ("sum", "value_bool", "value_text", "value_data", "update_s")
NO_EXTRAS: tuple[None, ...] = (None,) * len(EXTRA_FIELDS)
#: Text a string value may hold: no NUL or other C0 control except tab and line breaks.
_VALUE_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"


class Reading(_Strict):
    """One sensor value at one time (narrow form: one metric per row).

    A SenML record may carry a number, a sum beside it, a boolean, a string or data
    (RFC 8428 4.2); each has its own field and at least one is present. Data travels
    base64-encoded in JSON.
    """

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, ser_json_bytes="base64", val_json_bytes="base64"
    )

    time: AwareDatetime
    sensor: Ident
    metric: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=_LINE)]
    value: float | None = Field(default=None, allow_inf_nan=False)
    unit: Annotated[str, StringConstraints(max_length=32, pattern=_LINE)] | None = None
    quality: int = Field(default=0, ge=0, le=255, description="0 = good; source-defined otherwise")
    department: Ident
    site: Ident
    sum: float | None = Field(default=None, allow_inf_nan=False)
    value_bool: bool | None = None
    value_text: (
        Annotated[
            str, StringConstraints(max_length=4096, strip_whitespace=False, pattern=_VALUE_TEXT)
        ]
        | None
    ) = None
    value_data: bytes | None = Field(default=None, max_length=65536)
    update_s: float | None = Field(default=None, gt=0, le=10**9, allow_inf_nan=False)

    @model_validator(mode="after")
    def _has_a_value(self) -> Reading:
        if self.value is None and self.extras[:4] == NO_EXTRAS[:4]:
            raise ValueError("a reading needs a value, sum, boolean, string or data")
        return self

    @property
    def extras(self) -> tuple[Any, ...]:
        return (self.sum, self.value_bool, self.value_text, self.value_data, self.update_s)

    def to_model(self) -> Reading:
        """Itself (a ``ReadingRow`` makes its model): callers that need models use this."""
        return self


class ReadingRow(NamedTuple):
    """A reading already checked against every rule of ``Reading``, as a plain tuple.

    High-rate packs (SenML) yield these instead of models: a tuple costs ~0.1 µs where a
    validated model costs ~3 µs, and the store writes the fields straight into COPY.
    Only ``adapters`` make them, after the same checks (see ``adapters.senml``).
    """

    time: datetime
    sensor: str
    metric: str
    value: float | None
    unit: str | None
    quality: int
    department: str
    site: str
    sum: float | None = None
    value_bool: bool | None = None
    value_text: str | None = None
    value_data: bytes | None = None
    update_s: float | None = None

    @property
    def extras(self) -> tuple[Any, ...]:
        return self[8:]

    def to_model(self) -> Reading:
        return Reading(**self._asdict())
