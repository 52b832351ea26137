"""SenML (RFC 8428) JSON packs: one pack carries many sensor readings.

Input format: adapters/docs/senml.md. Records are resolved per RFC 8428 4.6 (base
fields apply to the record and the ones after it); the resolved name is split into
sensor and metric at its last "/" (else its last ":"). Every value type is kept in
its own field: number (v), sum (s, beside the number), boolean (vb), string (vs),
data (vd), and the update time (ut). A pack with a must-understand field this
adapter does not know is refused whole (RFC 8428 4.4); other bad records are
refused one by one. Resolved records come out in time order (RFC 8428 4.6).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any

from pydantic import ValidationError

from adapters.base import Adapted, Adapter, AdapterError, Origin, Reject, validation_reason
from adapters.jsonsafe import load_json
from adapters.model import Reading, ReadingRow
from core.model import SourceSystem

MAX_PACK_BYTES = 8 * 1024 * 1024
MAX_RECORDS = 50_000
#: RFC 8428 4.5.3: times below 2**28 are relative to the time the pack was received.
RELATIVE_LIMIT = 2**28
#: Plausible absolute times: 2000-01-01 .. 2100-01-01 UTC (a device's wrong clock otherwise).
EARLIEST, LATEST = 946684800.0, 4102444800.0
#: Distinct (name, unit, department, site) combinations whose validation is remembered.
MAX_CACHED_NAMES = 10_000
#: RFC 8428 4.4: the version this adapter reads; a pack declaring a later one is refused.
VERSION = 10
_BASE = ("bn", "bt", "bu", "bv", "bs")
_VALUES = ("v", "vs", "vb", "vd")
_PLAIN = frozenset({"n", "v", "t", "u"})  # the common record: no base field, nothing unusual
_KNOWN = frozenset({*_BASE, "bver", "n", "u", *_VALUES, "s", "t", "ut"})
#: RFC 8428 4.5.1: name characters, first one alphanumeric.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-:./_]*$")
_BASE64URL = re.compile(r"^[A-Za-z0-9_-]*$")
_TIME = attrgetter("time")


def split_name(name: str) -> tuple[str, str]:
    """(sensor, metric) from a resolved SenML name."""
    for sep in ("/", ":"):
        head, found, tail = name.rpartition(sep)
        if found and head and tail:
            return head.rstrip("/:"), tail
    return name.rstrip("/:"), "value"


def _num(rec: dict[str, Any], key: str, default: float = 0.0) -> float:
    value = rec.get(key, default)
    if type(value) is not float and type(value) is not int:
        raise AdapterError(f"{key} must be a number")
    return float(value)


def check_pack(pack: Any) -> list[Any]:
    """The pack's records, or AdapterError for what makes the whole pack unusable."""
    if not isinstance(pack, list):
        raise AdapterError("a SenML pack is a JSON array of records")
    if len(pack) > MAX_RECORDS:
        raise AdapterError(f"pack of {len(pack)} records exceeds {MAX_RECORDS}")
    for rec in pack:
        if type(rec) is not dict:
            continue  # refused on its own
        if not rec.keys() <= _KNOWN:
            unknown = sorted(k for k in rec if k.endswith("_") and k not in _KNOWN)
            if unknown:  # RFC 8428 4.4: the entire pack MUST be rejected
                raise AdapterError(f"must-understand field {unknown[0][:40]!r} is not supported")
        if "bver" in rec:
            bver = rec["bver"]
            if type(bver) is not int or not 1 <= bver <= VERSION:
                raise AdapterError(f"bver must be an integer 1..{VERSION} (this reader's version)")
    return pack


@dataclass
class Base:
    """Base fields in force (RFC 8428 4.6: they apply to this record and later ones)."""

    bn: str = ""
    bt: float = 0.0
    bu: str | None = None
    bv: float = 0.0
    bs: float = 0.0
    #: The last resolved name and its (sensor, metric): packs repeat names record after record.
    name: str = ""
    split: tuple[str, str] = ("", "")

    def sensor_metric(self, rec: dict[str, Any]) -> tuple[str, str]:
        """(sensor, metric) of the record's resolved name (RFC 8428 4.5.1 checked)."""
        name = rec.get("n", "")
        if type(name) is not str:
            raise AdapterError("n must be a string")
        full = self.bn + name
        if full != self.name:
            self.name, self.split = full, split_name(resolve_name(full))
        return self.split

    def in_force(self, rec: Any) -> Any:
        """The record with the base fields in force written into it (its own win): a refused
        record that stands alone, named and timed as it was in its pack."""
        if type(rec) is not dict:
            return rec
        base = {k: getattr(self, k) for k in _BASE if getattr(self, k) not in ("", 0.0, None)}
        return {**base, **rec}

    def update(self, rec: dict[str, Any]) -> None:
        for key in _BASE:
            if key not in rec:
                continue
            if key in ("bn", "bu"):
                if type(rec[key]) is not str:
                    raise AdapterError(f"{key} must be a string")
                setattr(self, key, rec[key])
            else:
                setattr(self, key, _num(rec, key))


@dataclass(frozen=True)
class Values:
    """A record's value fields, resolved against the base (exactly one value, and/or a sum)."""

    value: float | None = None
    sum: float | None = None
    value_bool: bool | None = None
    value_text: str | None = None
    value_data: bytes | None = None
    update_s: float | None = None


def _data(text: Any) -> bytes:
    """RFC 8428 4.3 ``vd``: base64url (RFC 4648 section 5), padding omitted."""
    if type(text) is not str or not _BASE64URL.match(text) or len(text) % 4 == 1:
        raise AdapterError("vd must be base64url without padding")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise AdapterError("vd must be base64url without padding") from None


def values_of(rec: dict[str, Any], base: Base) -> Values:
    """The record's values (RFC 8428 4.2-4.3), or AdapterError naming the bad field."""
    present = [k for k in _VALUES if k in rec]
    if len(present) > 1:
        raise AdapterError(f"record has more than one value field ({', '.join(present)})")
    total = base.bs + _num(rec, "s") if "s" in rec else None
    update = _num(rec, "ut") if "ut" in rec else None
    if not present:
        if total is None:
            raise AdapterError("record has no value (v, vs, vb, vd) nor sum (s)")
        return Values(sum=total, update_s=update)
    kind = present[0]
    raw = rec[kind]
    if kind == "v":
        return Values(value=base.bv + _num(rec, "v"), sum=total, update_s=update)
    if kind == "vb":
        if type(raw) is not bool:
            raise AdapterError("vb must be true or false")
        return Values(value_bool=raw, sum=total, update_s=update)
    if kind == "vs":
        if type(raw) is not str:
            raise AdapterError("vs must be a string")
        return Values(value_text=raw, sum=total, update_s=update)
    return Values(value_data=_data(raw), sum=total, update_s=update)


def resolve_time(rec: dict[str, Any], base: Base, received: float) -> float:
    """Absolute time in seconds. RFC 8428 4.5.3: a value less than 2**28 (zero and every
    negative value among them) is relative to the time the pack was received."""
    t = _num(rec, "t") + base.bt
    if t < RELATIVE_LIMIT:
        t += received
    if not EARLIEST <= t < LATEST:  # also false for NaN
        raise AdapterError("t: time outside 2000..2099")
    return t


def resolve_name(full: str) -> str:
    """The resolved name ``bn + n`` if RFC 8428 4.5.1 allows it."""
    if not _NAME.match(full) or len(full) > 200:
        raise AdapterError(
            "n: resolved name is empty, too long or has characters RFC 8428 4.5.1 does not allow"
        )
    return full


class SenmlAdapter(Adapter):
    format = "senml"
    systems = (SourceSystem.sensor,)
    content_type = "application/senml+json"
    summary = "SenML (RFC 8428) JSON pack with many readings"
    max_bytes = MAX_PACK_BYTES

    def as_message(self, record: Any) -> Any:
        return [record]

    def __init__(self) -> None:
        #: (sensor, metric, unit, department, site) -> the fields as ``Reading`` normalises
        #: them, or None when ``Reading`` refuses them: checked once, not once per record.
        self._names: dict[tuple[str, str, str | None, str, str], tuple[str, str, str | None] | None]
        self._names = {}

    def adapt(self, payload: bytes, origin: Origin) -> Adapted:
        """Readings as validated ``ReadingRow`` tuples, in time order, plus refused records.

        Relative times resolve against ``origin.received_at`` (when ingest received the
        message), never the clock at parsing time.
        """
        # Depth is bounded by the record checks (every used field must be a scalar).
        pack = check_pack(load_json(payload, self.max_bytes, max_depth=None))
        base, received = Base(), origin.received_at.timestamp()
        rows: list[ReadingRow] = []
        rejects: list[Reject] = []
        for rec in pack:
            try:
                row = self._record(rec, base, received, origin)
            except AdapterError as exc:
                rejects.append(Reject(str(exc), base.in_force(rec)))
            except ValidationError as exc:
                rejects.append(Reject(validation_reason(exc), base.in_force(rec)))
            else:
                if row is not None:
                    rows.append(row)
        if not rows and not rejects:
            raise AdapterError("empty SenML pack")
        rows.sort(key=_TIME)  # RFC 8428 4.6: resolved records in chronological order
        return Adapted(readings=list(rows), rejects=rejects)

    def _record(self, rec: Any, base: Base, received: float, origin: Origin) -> ReadingRow | None:
        if type(rec) is not dict:
            raise AdapterError("record is not a JSON object")
        keys = rec.keys()
        if not keys <= _PLAIN:  # base fields, other value types, sums...
            base.update(rec)
            if keys <= {*_BASE, "bver"}:
                return None  # a record carrying only base fields
        sensor, metric = base.sensor_metric(rec)
        when = datetime.fromtimestamp(resolve_time(rec, base, received), UTC)
        unit = rec.get("u", base.bu)
        v = rec.get("v")
        if keys <= _PLAIN and (type(v) is float or type(v) is int):  # the common record
            value = base.bv + v
            checked = self._checked(sensor, metric, unit, origin, when)
            if checked is not None and math.isfinite(value):
                return ReadingRow(
                    when,
                    checked[0],
                    checked[1],
                    value,
                    checked[2],
                    0,
                    origin.department,
                    origin.site,
                )
        # Anything else goes through the model (exactly its rules and reasons).
        model = Reading(
            time=when,
            sensor=sensor,
            metric=metric,
            unit=unit,
            department=origin.department,
            site=origin.site,
            **vars(values_of(rec, base)),
        )
        return ReadingRow(**model.model_dump())

    def _checked(
        self, sensor: str, metric: str, unit: Any, origin: Origin, when: datetime
    ) -> tuple[str, str, str | None] | None:
        """The normalised (sensor, metric, unit), validated by ``Reading`` once per name."""
        if unit is not None and type(unit) is not str:
            return None  # the model refuses it with its reason
        key = (sensor, metric, unit, origin.department, origin.site)
        try:
            return self._names[key]  # a cached name, or None for one the model refused
        except KeyError:
            pass
        if len(self._names) >= MAX_CACHED_NAMES:
            self._names.clear()
        try:
            r = Reading(
                time=when,
                sensor=sensor,
                metric=metric,
                value=0.0,
                unit=unit,
                department=origin.department,
                site=origin.site,
            )
        except ValidationError:
            checked = None
        else:
            checked = (r.sensor, r.metric, r.unit)
        self._names[key] = checked
        return checked

    def simulate(
        self,
        rng: random.Random,
        origin: Origin,
        now: datetime,
        sensors: int = 3,
        per_sensor: int = 4,
    ) -> bytes:
        t0 = now.timestamp()
        pack: list[dict[str, Any]] = []
        kinds = [
            ("pm25", "ug/m3", 35.0, 15.0),
            ("temp", "Cel", 21.0, 6.0),
            ("noise", "dB", 58.0, 9.0),
            ("water_level", "m", 2.4, 0.3),
        ]
        for i in range(sensors):
            metric, unit, mean, spread = kinds[i % len(kinds)]
            # Many sensors of each kind, microsecond times: simulated reports at high rates do not
            # collide on (sensor, metric, time), which the store treats as one reading.
            sensor = f"{origin.site}-{metric}-{rng.randint(1, 200)}"
            bt = round(t0 - rng.random(), 6)
            pack.append({"bn": f"{sensor}/", "bt": bt, "bu": unit})
            for j in range(per_sensor):
                rec: dict[str, Any] = {"n": metric, "v": round(rng.gauss(mean, spread / 3), 2)}
                if j:
                    rec["t"] = -j  # seconds before bt
                pack.append(rec)
        return json.dumps(pack, separators=(",", ":")).encode("utf-8")
