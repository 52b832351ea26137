"""Checks every adapter applies to values from the wire: plausible times, clean text.

A device's clock, keyboard or firmware can put anything in a field; what reaches
police and inspectors must be a real time and printable text. Each check raises
``AdapterError`` naming the field, never another exception.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, tzinfo
from typing import Any

from adapters.base import AdapterError

#: Times outside this range are a device's wrong clock, not an observation.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
#: C0/C1 controls, line separators, zero-width and bidirectional overrides (which can make a
#: plate read differently on screen than in the database).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_CONTROL_MULTILINE = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]"
)


def plausible(t: datetime, field: str) -> datetime:
    """``t`` in UTC if it lies in [2000, 2100), else AdapterError naming ``field``."""
    if t.tzinfo is None:
        raise AdapterError(f"{field}: time without a zone")
    # The year is checked before converting: 9999-12-31T23:00-05:00 overflows in UTC.
    if not 1999 <= t.year <= 2100 or not EARLIEST <= t.astimezone(UTC) < LATEST:
        raise AdapterError(
            f"{field}: {t.isoformat()[:40]} is outside {EARLIEST.year}..{LATEST.year - 1}"
        )
    return t.astimezone(UTC)


def parse_time(value: Any, local_tz: tzinfo, field: str = "time") -> datetime:
    """A plausible ISO 8601 time in UTC; one without an offset is read in ``local_tz``."""
    if not isinstance(value, str) or len(value) > 40:
        raise AdapterError(f"{field}: expected an ISO 8601 time string")
    try:
        t = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError:
        raise AdapterError(f"{field}: {value[:40]!r} is not an ISO 8601 time") from None
    return plausible(t if t.tzinfo is not None else t.replace(tzinfo=local_tz), field)


def clean_text(value: str | None, field: str, max_len: int, multiline: bool = False) -> str | None:
    """``value`` if printable and at most ``max_len`` characters, else AdapterError.

    ``multiline`` allows tab and line breaks (descriptions), never in names or plates.
    """
    if value is None:
        return None
    if len(value) > max_len:
        raise AdapterError(f"{field}: longer than {max_len} characters")
    if (_CONTROL_MULTILINE if multiline else _CONTROL).search(value):
        raise AdapterError(f"{field}: contains control characters")
    if any(unicodedata.category(c) in ("Co", "Cs", "Cn") for c in value if ord(c) > 0x2000):
        raise AdapterError(f"{field}: contains unassigned or private-use characters")
    return value
