"""Every adapter: implausible dates and hostile text are clean rejections naming the field."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from adapters import registry
from adapters.base import AdapterError, Origin
from core.model import SourceSystem
from hub.ingest.pipeline import adapt_message
from tests.test_adapters import NOW, sample, sample_index

#: SenML times are numbers (tests/test_senml_rfc8428.py covers them).
JSON_SAMPLES = sorted(
    p for p in sample_index() if p.endswith(".json") and not p.startswith("senml/")
)
_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d")
BAD_TIMES = ["9999-12-31T23:59:59-05:00", "9999-12-31T23:59:59+14:00", "1900-01-01T00:00:00+08:00"]


def _time_fields(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(doc, dict):
        return [p for k, v in doc.items() for p in _time_fields(v, (*path, k))]
    if isinstance(doc, list):
        return [p for i, v in enumerate(doc) for p in _time_fields(v, (*path, i))]
    return [path] if isinstance(doc, str) and _ISO.match(doc) else []


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        doc = doc[key]
    doc[path[-1]] = value


@pytest.mark.parametrize("path", JSON_SAMPLES)
@pytest.mark.parametrize("bad", BAD_TIMES)
def test_implausible_dates_are_clean_rejections_in_every_json_adapter(path: str, bad: str) -> None:
    topic, doc = sample_index()[path], json.loads(sample(path))
    fields = _time_fields(doc)
    assert fields, f"{path} has no time"
    for field in fields:
        _set(doc, field, bad)
    out = adapt_message(topic, json.dumps(doc).encode(), NOW)
    assert out.events == [] and out.readings == []
    name = str(fields[0][-1])  # the reason names the payload's own field, not the event's
    assert out.letters and all(f"{name}: " in letter.reason for letter in out.letters), out.letters
    assert all("2000..2099" in letter.reason for letter in out.letters), out.letters


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("anpr-json/plate-read.json", "plate"),
        ("wim/overweight-6axle.json", "plate"),
        ("bus/position.json", "route"),
        ("citycase/reported.json", "case_id"),
    ],
)
@pytest.mark.parametrize(
    "bad", ["川A\x001234", "川A\u202e1234", "川A\u200b1234", "川A\n1234", "\x85"]
)
def test_control_characters_in_plates_and_names_are_refused(
    path: str, field: str, bad: str
) -> None:
    doc = json.loads(sample(path))
    doc[field] = bad
    out = adapt_message(sample_index()[path], json.dumps(doc).encode(), NOW)
    assert out.events == [] and field in out.letters[0].reason


@pytest.mark.parametrize(
    ("path", "field", "limit"),
    [
        ("anpr-json/plate-read.json", "plate", 16),
        ("wim/overweight-6axle.json", "calibration_id", 64),
        ("citycase/reported.json", "description", 2000),
    ],
)
def test_every_field_has_a_size_bound_named_in_the_reason(
    path: str, field: str, limit: int
) -> None:
    doc = json.loads(sample(path))
    doc[field] = "A" * (limit + 1)
    out = adapt_message(sample_index()[path], json.dumps(doc).encode(), NOW)
    assert out.events == [] and field in out.letters[0].reason


def test_a_far_future_time_never_raises_out_of_an_xml_adapter() -> None:
    """The issue's OverflowError: 9999-12-31 with a negative offset is past datetime.max in UTC."""
    xml = sample("isapi/motion.xml").decode()
    xml = re.sub(r"<dateTime>[^<]*<", "<dateTime>9999-12-31T23:59:59-05:00<", xml)
    with pytest.raises(AdapterError, match="dateTime"):
        registry.get("isapi").adapt(xml.encode(), Origin("police", "x", SourceSystem.safecity, NOW))


def _first_record(doc: dict[str, Any]) -> dict[str, Any]:
    """The record a sample's field lives in: the document, or its pack's first record."""
    for key in ("events", "readings"):
        if key in doc:
            record: dict[str, Any] = doc[key][0]
            return record
    return doc


@pytest.mark.parametrize(
    ("path", "field", "text"),
    [
        ("wim/overweight-6axle.json", "gross_kg", "49001"),
        ("wim/overweight-6axle.json", "speed_kmh", "46.3"),
        ("anpr-json/plate-read.json", "speed_kmh", "85"),  # the speeding flag rests on it
        ("anpr-json/plate-read.json", "lane", "2"),
        ("cityhub-events/edge-pack.json", "severity", "2"),
        ("cityhub-readings/pack.json", "value", "64.2"),
        ("cityhub-readings/pack.json", "quality", "0"),
    ],
)
def test_numbers_given_as_strings_are_refused_in_strict_formats(
    path: str, field: str, text: str
) -> None:
    """A number in quotes is a program's bug or a tampered record: never read as a number
    in the evidence and machine formats; the reason names the field."""
    doc = json.loads(sample(path))
    _first_record(doc)[field] = text
    out = adapt_message(sample_index()[path], json.dumps(doc, ensure_ascii=False).encode(), NOW)
    assert out.letters and field in out.letters[0].reason, out.letters
    pack = doc.get("events") or doc.get("readings") or [doc]
    assert len([*out.events, *out.readings]) == len(pack) - 1  # only that record is refused


@pytest.mark.parametrize(
    "path", ["anpr-json/plate-read.json", "bus/position.json", "citycase/reported.json"]
)
@pytest.mark.parametrize(
    "body",
    [
        "中文".encode("gbk"),  # a GBK-encoded record: JSON has no other encoding than UTF-8
        b"\xff\xfe{\x00}\x00",  # UTF-16 with a byte order mark
    ],
)
def test_json_that_is_not_utf8_is_refused_as_invalid_encoding(path: str, body: bytes) -> None:
    """RFC 8259 8.1: JSON exchanged between systems is UTF-8; anything else is refused with
    ``invalid_encoding`` and kept as received, never decoded into mojibake."""
    doc = sample(path).decode()
    payload = doc.encode("utf-8")[:1] + body + doc.encode("utf-8")[1:]
    out = adapt_message(sample_index()[path], payload, NOW)
    assert out.events == [] and out.readings == []
    (letter,) = out.letters
    assert letter.reason.startswith("invalid_encoding") and letter.payload == payload


@pytest.mark.parametrize(
    ("where", "field"),
    [
        ({"attributes": {"plate": "川A\u202e12345"}}, "attributes.plate"),
        ({"attributes": {"plate": "川A\n12345"}}, "attributes.plate"),
        ({"attributes": {"note": "a\x00b"}}, "attributes.note"),
        ({"attributes": {"zone\u200b": "x"}}, "attributes.zone"),
        ({"media": [{"kind": "snapshot", "uri": "edge://x/\x1b[2J.jpg"}]}, "uri"),
    ],
)
def test_control_characters_in_cityhub_event_packs_are_refused(
    where: dict[str, Any], field: str
) -> None:
    """cityhub-events carries plates in attributes: the same rule as every native format."""
    path = "cityhub-events/edge-pack.json"
    doc = json.loads(sample(path))
    doc["events"][0] |= where
    out = adapt_message(sample_index()[path], json.dumps(doc, ensure_ascii=False).encode(), NOW)
    assert len(out.events) == len(doc["events"]) - 1
    (letter,) = out.letters
    assert field in letter.reason, letter.reason


@pytest.mark.parametrize("field", ["metric", "unit"])
def test_control_characters_in_reading_names_are_refused(field: str) -> None:
    path = "cityhub-readings/pack.json"
    doc = json.loads(sample(path))
    doc["readings"][0][field] = "la\u202eeq"
    out = adapt_message(sample_index()[path], json.dumps(doc, ensure_ascii=False).encode(), NOW)
    assert len(out.readings) == len(doc["readings"]) - 1 and field in out.letters[0].reason


def test_typed_wim_plate_in_a_cityhub_event_is_refused_with_control_characters() -> None:
    origin = Origin("overload", "g108-wim", SourceSystem.overload, NOW)
    (ev,) = registry.get("wim").adapt(sample("wim/overweight-6axle.json"), origin).events
    data = json.loads(ev.model_dump_json())
    data["wim"]["plate"] = "川B\u202e57391"
    topic = "city/overload/g108-wim/overload/events"
    out = adapt_message(topic, json.dumps({"events": [data]}).encode(), NOW)
    assert out.events == [] and "wim.plate" in out.letters[0].reason
