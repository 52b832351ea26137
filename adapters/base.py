"""What every source-system adapter is: a plugin that turns one wire payload into events/readings.

Adapters are found through the ``cityhub.adapters`` entry-point group (see
``adapters.registry``), so a department's integrator can ship one in its own
package. An adapter is pure logic: bytes in, model objects out, no I/O. The
department, site and system come from the MQTT topic (``Origin``), never from
the payload: the broker's ACL decides who may publish where, so a payload that
claims another department or site is rejected.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from importlib import resources
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from adapters.model import Event, Reading, ReadingRow
from core.model import SourceSystem

#: Largest native payload an adapter accepts (a packed events/SenML message may be larger).
MAX_NATIVE_BYTES = 256 * 1024


class AdapterError(ValueError):
    """The payload cannot be adapted; the message says why (it goes to dead-letter)."""


@dataclass(frozen=True)
class Origin:
    """Where a payload came from, taken from the topic (authoritative)."""

    department: str
    site: str
    system: SourceSystem
    received_at: datetime
    #: Zone for payloads that carry local times without an offset (GB/T 28181 does).
    local_tz: tzinfo = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Reject:
    """One record (or a whole payload) that could not be adapted, kept for inspection."""

    reason: str
    record: Any = None  #: the offending record when a pack was partly good, else None


#: Metric under which a device's keep-alives are kept: its latest time is the last-seen.
HEARTBEAT_METRIC = "heartbeat"


@dataclass(frozen=True)
class Heartbeat:
    """A device said "I am alive" (a keep-alive), which is not an event."""

    device: str

    def reading(self, origin: Origin) -> ReadingRow:
        """The keep-alive as a reading at the receive time (the device's clock may be wrong),
        so that ``latest_readings`` answers "when was this camera last seen"."""
        row = ReadingRow(
            origin.received_at,
            self.device,
            HEARTBEAT_METRIC,
            1.0,
            None,
            0,
            origin.department,
            origin.site,
        )
        try:
            row.to_model()  # the device id must be a valid sensor id
        except ValidationError as exc:
            raise AdapterError(f"keep-alive device id: {validation_reason(exc)}") from None
        return row


@dataclass
class Adapted:
    """The result of adapting one payload: good records plus the rejected ones."""

    events: list[Event] = field(default_factory=list)
    readings: list[Reading | ReadingRow] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    heartbeats: list[Heartbeat] = field(default_factory=list)


def validation_reason(exc: ValidationError, limit: int = 3) -> str:
    """A short, log-safe reason from a pydantic error (field paths and messages, no inputs)."""
    parts = []
    for err in exc.errors(include_input=False)[:limit]:
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{loc}: {err['msg']}")
    more = exc.error_count() - limit
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def stable_event_id(occurred_at: datetime, *key: str | bytes) -> uuid.UUID:
    """A UUIDv7 whose time part is ``occurred_at`` and whose rest is a hash of ``key``.

    Native payloads carry no cityhub id; deriving it from the payload makes a
    redelivered or re-sent payload map to the same event, so the store's dedupe
    by id makes redelivery harmless.
    """
    h = hashlib.sha256()
    for part in key:
        h.update(part if isinstance(part, bytes) else part.encode("utf-8"))
        h.update(b"\x00")
    rand = int.from_bytes(h.digest()[:10], "big")  # 80 bits, 74 used
    ms = int(occurred_at.timestamp() * 1000) & ((1 << 48) - 1)
    value = (
        (ms << 80)
        | (0x7 << 76)
        | ((rand >> 62) & 0xFFF) << 64
        | (0b10 << 62)
        | (rand & ((1 << 62) - 1))
    )
    return uuid.UUID(int=value)


def check_claims(origin: Origin, department: Any, site: Any) -> None:
    """Reject a payload that names a department or site other than its topic's."""
    if department not in (None, "") and department != origin.department:
        raise AdapterError(
            f"payload claims department {str(department)[:64]!r} but was published under "
            f"{origin.department!r}"
        )
    if site not in (None, "") and site != origin.site:
        raise AdapterError(
            f"payload claims site {str(site)[:64]!r} but was published under {origin.site!r}"
        )


class Adapter(ABC):
    """A source-system format. Subclasses set the class attributes and implement two methods."""

    #: Topic segment ``{format}`` in ``city/{dept}/{site}/{system}/native/{format}``.
    format: ClassVar[str]
    #: Systems whose topics may carry this format (the first is the default for simulation).
    systems: ClassVar[tuple[SourceSystem, ...]]
    #: MIME type of the payload, for documentation and the edge box's HTTP listener.
    content_type: ClassVar[str] = "application/json"
    #: One line on what it accepts; the full input format is in adapters/docs/<format>.md.
    summary: ClassVar[str] = ""
    #: Largest payload accepted, in bytes.
    max_bytes: ClassVar[int] = MAX_NATIVE_BYTES

    @abstractmethod
    def adapt(self, payload: bytes, origin: Origin) -> Adapted:
        """Turn a payload into events/readings; raise AdapterError if none of it is usable."""

    @abstractmethod
    def simulate(self, rng: random.Random, origin: Origin, now: datetime) -> bytes:
        """One realistic native payload, for ``cityhub simulate`` and the demo."""

    def as_message(self, record: Any) -> Any:
        """A refused record of a pack as a message of this format holding it alone: what its
        dead letter keeps, so that it can be adapted again once its cause is mended
        (``cityhub ingest replay``). Formats without packs keep the record as it is."""
        return record

    def check_size(self, payload: bytes) -> None:
        if len(payload) > self.max_bytes:
            raise AdapterError(f"payload of {len(payload)} bytes exceeds {self.max_bytes} bytes")

    @classmethod
    def samples(cls) -> dict[str, bytes]:
        """Sample payloads shipped in adapters/samples/<format>/ (name -> bytes)."""
        folder = resources.files("adapters").joinpath("samples", cls.format)
        if not folder.is_dir():
            return {}
        return {
            p.name: p.read_bytes()
            for p in sorted(folder.iterdir(), key=lambda p: p.name)
            if p.is_file() and not p.name.startswith(".")
        }


def origin_event(origin: Origin, **fields: Any) -> Event:
    """An event at the message's origin: department, site and system come from the topic.

    The model's refusal becomes an AdapterError with its reason (the payload is dead-lettered).
    """
    try:
        return Event(
            source_system=origin.system, department=origin.department, site=origin.site, **fields
        )
    except ValidationError as exc:
        raise AdapterError(validation_reason(exc)) from None


def document_event(
    origin: Origin,
    fmt: str,
    payload: bytes,
    occurred: datetime,
    attrs: dict[str, Any],
    extra: dict[str, Any],
    **fields: Any,
) -> Event:
    """The event of one pushed XML document (ISAPI, GB/T 28181): its id is stable over the
    time, format, origin and bytes (a repeat is the same event); attributes without the
    unset ones, and what the adapter does not map kept under ``extra``."""
    if extra:
        attrs["extra"] = extra
    return origin_event(
        origin,
        id=stable_event_id(occurred, fmt, origin.department, origin.site, payload),
        occurred_at=occurred,
        attributes={k: v for k, v in attrs.items() if v is not None},
        **fields,
    )
