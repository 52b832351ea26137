"""Shared plumbing for adapters whose native form is one JSON object per record.

Each such adapter declares a pydantic model of the fields it understands
(``extra="allow"``: unknown fields are kept and end up in the event's
``attributes["extra"]``) and turns a validated record into events/readings.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator

from adapters.base import AdapterError, Origin, check_claims, validation_reason
from adapters.checks import clean_text, plausible
from adapters.jsonsafe import check_depth, load_json

#: Size of the unknown fields kept per record (JSON-encoded), so extras cannot bloat the store.
MAX_EXTRA_BYTES = 16 * 1024

M = TypeVar("M", bound="NativeRecord")


def _wire_time(value: Any) -> datetime:
    """An ISO 8601 string with its offset, in 2000..2099 (a wrong clock otherwise): the
    reason then names the record's own field, not the event's ``occurred_at``."""
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError("expected an ISO 8601 time string with offset")
    t = datetime.fromisoformat(value)
    if t.tzinfo is None:
        raise ValueError("time must carry its offset")
    try:
        return plausible(t, "time")
    except AdapterError as exc:
        raise ValueError(str(exc).removeprefix("time: ")) from None


#: A record's time from the wire (native JSON formats define times with offsets).
WireTime = Annotated[datetime, BeforeValidator(_wire_time)]


class NativeRecord(BaseModel):
    """Base of native JSON records: known fields typed, unknown fields kept."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True, str_max_length=4096)

    #: Free-text fields that may hold line breaks; every other text field is one line.
    multiline: ClassVar[frozenset[str]] = frozenset()

    department: str | None = None
    site: str | None = None

    @model_validator(mode="after")
    def _printable(self) -> Any:
        """No control or bidirectional-override characters in text (they change what a
        plate or name looks like on screen); the reason names the field."""
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, str):
                try:
                    clean_text(value, name, len(value), multiline=name in self.multiline)
                except AdapterError as exc:
                    raise ValueError(str(exc)) from None
        return self

    def extra(self) -> dict[str, Any]:
        extra = dict(self.model_extra or {})
        if extra:
            check_depth(extra, 8)
            if len(json.dumps(extra, ensure_ascii=False, default=str)) > MAX_EXTRA_BYTES:
                raise AdapterError(f"unknown fields exceed {MAX_EXTRA_BYTES} bytes")
        return extra


def load_record(model: type[M], payload: bytes, origin: Origin, max_bytes: int) -> M:
    """Parse and validate one JSON record and check its department/site claims."""
    data = load_json(payload, max_bytes)
    if not isinstance(data, dict):
        raise AdapterError(f"expected a JSON object, got {type(data).__name__}")
    try:
        record = model.model_validate(data)
    except ValidationError as exc:
        raise AdapterError(validation_reason(exc)) from None
    check_claims(origin, record.department, record.site)
    return record
