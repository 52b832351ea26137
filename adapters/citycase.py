"""City-management cases: reported by inspectors or citizens, then dispatched and closed.

Input format: adapters/docs/citycase.md. Each message is a case report or a status
change of a case; each becomes an event ``case_<status>`` carrying the case id, so a
case's history is the events with the same ``attributes.case_id``.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import Field

from adapters.base import Adapted, Adapter, AdapterError, Origin, origin_event, stable_event_id
from adapters.jsonform import NativeRecord, WireTime, load_record
from adapters.model import MediaRef, Severity
from core.model import Ident, Location, SourceSystem

Status = Literal[
    "reported", "verified", "dispatched", "in_progress", "resolved", "closed", "rejected"
]
SEVERITY: dict[str, Severity] = {"E04": Severity.major}  # emergencies


@cache
def categories() -> dict[str, dict[str, str]]:
    """The documented code list (adapters/data/citycase_categories.yaml)."""
    text = (
        resources.files("adapters").joinpath("data", "citycase_categories.yaml").read_text("utf-8")
    )
    return dict(yaml.safe_load(text))


class CaseRecord(NativeRecord):
    """A case report or status change (fields documented in docs/citycase.md)."""

    multiline = frozenset({"description", "note", "address"})

    case_id: str = Field(min_length=1, max_length=64)
    category: str = Field(min_length=1, max_length=16)
    status: Status
    time: WireTime = Field(description="when the case entered this status")
    description: str | None = Field(None, max_length=2000)
    location: Location | None = None
    address: str | None = Field(None, max_length=256)
    reporter: Literal["inspector", "citizen", "camera", "sensor", "other"] | None = None
    assignee: str | None = Field(None, max_length=128)
    note: str | None = Field(None, max_length=2000)
    camera: Ident | None = None
    photos: list[MediaRef] = Field(default_factory=list, max_length=16)


class CityCaseAdapter(Adapter):
    format = "citycase"
    systems = (SourceSystem.citymgmt,)
    summary = "city-management case report or status change, category from a documented code list"

    def adapt(self, payload: bytes, origin: Origin) -> Adapted:
        r = load_record(CaseRecord, payload, origin, self.max_bytes)
        cat = categories().get(r.category)
        if cat is None:
            raise AdapterError(
                f"unknown case category {r.category!r} (see citycase_categories.yaml)"
            )
        attrs: dict[str, Any] = r.model_dump(
            include={
                "case_id",
                "category",
                "status",
                "description",
                "address",
                "reporter",
                "assignee",
                "note",
            },
            exclude_none=True,
        )
        attrs["category_name"] = cat["name"]
        attrs["category_class"] = cat["class"]
        if extra := r.extra():
            attrs["extra"] = extra
        event = origin_event(
            origin,
            id=stable_event_id(
                r.time, "citycase", origin.department, r.case_id, r.status, r.time.isoformat()
            ),
            occurred_at=r.time,
            kind=f"case_{r.status}",
            severity=SEVERITY.get(
                r.category[:3], Severity.minor if r.status == "reported" else Severity.info
            ),
            camera=r.camera,
            location=r.location,
            attributes=attrs,
            media=r.photos,
        )
        return Adapted(events=[event])

    def simulate(self, rng: random.Random, origin: Origin, now: datetime) -> bytes:
        code = rng.choice(sorted(categories()))
        t = now - timedelta(seconds=rng.randint(0, 5))
        case_id = f"CM{t:%Y%m%d}{rng.randrange(10**6):06d}"
        status = rng.choice(["reported", "reported", "dispatched", "resolved"])
        record: dict[str, Any] = {
            "case_id": case_id,
            "category": code,
            "status": status,
            "time": t.isoformat(),
            "description": categories()[code]["name"],
            "location": {
                "lat": round(30.65 + rng.uniform(-0.02, 0.02), 6),
                "lon": round(104.07 + rng.uniform(-0.02, 0.02), 6),
            },
            "address": f"No. {rng.randint(1, 300)} Riverside Rd",
            "reporter": rng.choice(["inspector", "citizen", "camera"]),
            "photos": [
                {
                    "kind": "picture",
                    "uri": f"citycase://{case_id}/1.jpg",
                    "content_type": "image/jpeg",
                }
            ],
            "grid_cell": f"G{rng.randint(1, 80):03d}",
        }
        return json.dumps(record, ensure_ascii=False).encode("utf-8")
