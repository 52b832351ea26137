"""SenML (RFC 8428) JSON packs: one pack carries many sensor readings.

Input format: adapters/docs/senml.md. Base fields (bn, bt, bu, bv, bs) are
resolved per RFC 8428 section 4.6; the resolved name is split into sensor and
metric at its last "/" (else its last ":"). Numeric (v), boolean (vb, stored as
1/0) and sum (s, metric suffixed "_sum") values become readings; string and
data values (vs, vd) and records with unknown must-understand fields ("..._")
are rejected one by one, the rest of the pack is kept.
"""

from __future__ import annotations

import json
import math
import random
import time as _time
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from adapters.base import Adapted, Adapter, AdapterError, Origin, Reject, validation_reason
from adapters.jsonsafe import load_json
from adapters.model import Reading, ReadingRow
from core.model import SourceSystem

MAX_PACK_BYTES = 8 * 1024 * 1024
MAX_RECORDS = 50_000
#: RFC 8428 4.5.3: times below 2**28 are relative to now.
RELATIVE_LIMIT = 2**28
#: Distinct (name, unit, department, site) combinations whose validation is remembered.
MAX_CACHED_NAMES = 10_000
_BASE = ("bn", "bt", "bu", "bv", "bs")
_PLAIN = frozenset({"n", "v", "t", "u"})  # the common record: no base field, nothing unusual
_KNOWN = frozenset({*_BASE, "bver", "n", "u", "v", "vs", "vb", "vd", "s", "t", "ut"})


def split_name(name: str) -> tuple[str, str]:
    """(sensor, metric) from a resolved SenML name."""
    for sep in ("/", ":"):
        head, found, tail = name.rpartition(sep)
        if found and head and tail:
            return head.rstrip("/:"), tail
    return name.rstrip("/:"), "value"


def _model_fields(
    when: datetime, sensor: str, metric: str, value: Any, unit: Any, dept: str, site: str
) -> tuple[Any, ...]:
    """A record's fields through ``Reading`` itself (raises its ValidationError)."""
    r = Reading(
        time=when, sensor=sensor, metric=metric, value=value, unit=unit, department=dept, site=site
    )
    return (r.time, r.sensor, r.metric, r.value, r.unit, r.quality, r.department, r.site)


def _num(rec: dict[str, Any], key: str) -> float:
    value = rec.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AdapterError(f"{key} must be a number")
    return float(value)


class SenmlAdapter(Adapter):
    format = "senml"
    systems = (SourceSystem.sensor,)
    content_type = "application/senml+json"
    summary = "SenML (RFC 8428) JSON pack with many readings"
    max_bytes = MAX_PACK_BYTES

    def __init__(self) -> None:
        #: (sensor, metric, unit, department, site) -> the fields as ``Reading`` normalises
        #: them, or None when ``Reading`` refuses them: checked once, not once per record.
        self._names: dict[tuple[str, str, str | None, str, str], tuple[str, str, str | None] | None]
        self._names = {}

    def adapt(self, payload: bytes, origin: Origin) -> Adapted:
        rows, rejects = self.adapt_rows(payload, origin)
        return Adapted(readings=[r.to_model() for r in rows], rejects=rejects)

    def _checked_names(
        self, key: tuple[str, str, str | None, str, str], when: datetime
    ) -> tuple[str, str, str | None] | None:
        """The normalised (sensor, metric, unit) of a name, validated by ``Reading`` once."""
        if len(self._names) >= MAX_CACHED_NAMES:
            self._names.clear()
        try:
            r = Reading(
                time=when,
                sensor=key[0],
                metric=key[1],
                value=0.0,
                unit=key[2],
                department=key[3],
                site=key[4],
            )
        except ValidationError:
            checked = None
        else:
            checked = (r.sensor, r.metric, r.unit)
        self._names[key] = checked
        return checked

    def adapt_rows(self, payload: bytes, origin: Origin) -> tuple[list[ReadingRow], list[Reject]]:
        """Validated readings as tuples (``Reading``'s rules, checked without a model per record).

        Names, units, department and site are validated by ``Reading`` once per distinct
        combination (cached); per record only the value and time are checked here. A
        record that fails a cheap check is built as a ``Reading`` so that it is refused
        with exactly the model's reason.
        """
        # Depth is bounded by the record checks below (every used field must be a scalar).
        pack = load_json(payload, self.max_bytes, max_depth=None)
        if not isinstance(pack, list):
            raise AdapterError("a SenML pack is a JSON array of records")
        if len(pack) > MAX_RECORDS:
            raise AdapterError(f"pack of {len(pack)} records exceeds {MAX_RECORDS}")
        rows: list[ReadingRow] = []
        rejects: list[Reject] = []
        base: dict[str, Any] = {"bn": "", "bt": 0.0, "bu": None, "bv": 0.0, "bs": 0.0}
        now = _time.time()
        dept, site = origin.department, origin.site
        names, fromtimestamp, isfinite = self._names, datetime.fromtimestamp, math.isfinite
        last_name, sensor, metric = None, "", ""
        for rec in pack:
            try:
                if type(rec) is not dict:
                    raise AdapterError("record is not a JSON object")
                keys = rec.keys()
                if not keys <= _PLAIN:  # base fields, booleans, sums, must-understand fields...
                    for key in _BASE:  # base fields apply to this and later records
                        if key in rec:
                            if key in ("bn", "bu"):
                                if not isinstance(rec[key], str):
                                    raise AdapterError(f"{key} must be a string")
                                base[key] = rec[key]
                            else:
                                base[key] = _num(rec, key)
                    if not keys <= _KNOWN and any(k.endswith("_") for k in keys):
                        raise AdapterError(
                            "record has a must-understand field this hub does not support"
                        )
                    if "vs" in rec or "vd" in rec:
                        raise AdapterError(
                            "string and data values (vs, vd) are not stored as readings"
                        )
                name = rec.get("n", "")
                if type(name) is not str:
                    raise AdapterError("n must be a string")
                if "v" not in rec and "vb" not in rec and "s" not in rec:
                    if keys <= {*_BASE, "bver"}:
                        continue  # a record carrying only base fields
                    raise AdapterError("record has no value (v, vb or s)")
                t = rec.get("t", 0)
                if type(t) is not float and type(t) is not int:
                    raise AdapterError("t must be a number")
                t += base["bt"]
                if abs(t) < RELATIVE_LIMIT:
                    t += now
                if not 0 < t < 32503680000:  # also false for NaN
                    raise AdapterError("time out of range")
                full = base["bn"] + name
                if full != last_name:
                    last_name, (sensor, metric) = full, split_name(full)
                unit = rec.get("u", base["bu"])
                v = rec.get("v")
                if type(v) is float or type(v) is int:
                    value = base["bv"] + v
                    m = metric
                elif "vb" in rec:
                    if not isinstance(rec["vb"], bool):
                        raise AdapterError("vb must be true or false")
                    value, m = (1.0 if rec["vb"] else 0.0), metric
                elif "v" in rec:
                    raise AdapterError("v must be a number")
                else:
                    value, m = base["bs"] + _num(rec, "s"), metric + "_sum"
                when = fromtimestamp(t, UTC)
                if unit is None or type(unit) is str:
                    combo = (sensor, m, unit, dept, site)
                    checked = names[combo] if combo in names else self._checked_names(combo, when)
                else:  # a unit that is not a string (the model refuses it)
                    checked = None
                if checked is None or not isfinite(value):  # refused with the model's reason
                    rows.append(
                        ReadingRow(*_model_fields(when, sensor, m, value, unit, dept, site))
                    )
                    continue
                rows.append(
                    ReadingRow(
                        when, checked[0], checked[1], float(value), checked[2], 0, dept, site
                    )
                )
            except AdapterError as exc:
                rejects.append(Reject(str(exc), rec))
            except ValidationError as exc:
                rejects.append(Reject(validation_reason(exc), rec))
        if not rows and not rejects:
            raise AdapterError("empty SenML pack")
        return rows, rejects

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
