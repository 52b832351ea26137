"""Adapters as pure logic: samples adapt to the right rows, hostile payloads are refused."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, datetime
from importlib import resources

import pytest
import yaml

from adapters import registry
from adapters.base import AdapterError, Origin, stable_event_id
from adapters.gb1589 import VehicleForm, legal_limit_kg
from core.model import SourceSystem
from core.topics import TopicError, parse
from hub.ingest.pipeline import adapt_message

NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
EXPECTED_FORMATS = {
    "isapi",
    "gb28181",
    "anpr-json",
    "wim",
    "citycase",
    "bus",
    "senml",
    "cityhub-events",
    "cityhub-readings",
}


def sample_index() -> dict[str, str]:
    text = resources.files("adapters").joinpath("samples", "index.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def sample(path: str) -> bytes:
    return resources.files("adapters").joinpath("samples", path).read_bytes()


def origin(
    system: SourceSystem = SourceSystem.safecity, dept: str = "police", site: str = "xinhua-5th"
) -> Origin:
    return Origin(dept, site, system, NOW)


def test_entry_points_register_every_adapter_with_samples() -> None:
    found = registry.adapters()
    assert EXPECTED_FORMATS <= set(found)
    for fmt in EXPECTED_FORMATS:
        assert found[fmt].samples(), f"{fmt} ships no sample payloads"
        assert found[fmt].summary
    indexed = {p.split("/")[0] for p in sample_index()}
    assert indexed == EXPECTED_FORMATS


@pytest.mark.parametrize("path", sorted(sample_index()))
def test_every_sample_adapts_without_rejects(path: str) -> None:
    topic = sample_index()[path]
    out = adapt_message(topic, sample(path), NOW)
    assert out.letters == []
    assert out.events or out.readings
    route = parse(topic)
    for row in [*out.events, *out.readings]:
        assert (row.department, row.site) == (route.department, route.site)


def test_isapi_line_crossing_keeps_unknown_elements() -> None:
    (ev,) = adapt_message(
        "city/police/xinhua-5th/safecity/native/isapi", sample("isapi/line-crossing.xml"), NOW
    ).events
    assert ev.kind == "line_crossing" and ev.severity == 2
    assert ev.occurred_at == datetime(2025, 3, 14, 13, 7, 43, tzinfo=UTC)
    assert ev.attributes["channel"] == 1
    assert ev.attributes["extra"]["isDataRetransmission"] == "false"
    assert ev.attributes["regions"] == [
        {"id": 1, "sensitivity": 50, "points": [[120, 340], [880, 360]]}
    ]


def test_isapi_anpr_plate_read() -> None:
    (ev,) = adapt_message(
        "city/traffic/renmin-2nd/traffic/native/isapi", sample("isapi/anpr.xml"), NOW
    ).events
    assert (ev.kind, ev.source_system) == ("plate_read", SourceSystem.traffic)
    a = ev.attributes
    assert (a["plate"], a["plate_color"], a["lane"], a["speed_kmh"], a["vehicle_color"]) == (
        "川A9K2M7",
        "blue",
        2,
        47.0,
        "white",
    )
    assert [m.kind for m in ev.media] == ["plate", "picture"]


def test_gb28181_gb2312_and_local_time() -> None:
    (ev,) = adapt_message(
        "city/police/xinhua-5th/safecity/native/gb28181",
        sample("gb28181/intrusion-gb2312.xml"),
        NOW,
    ).events
    assert ev.kind == "intrusion" and ev.severity == 3
    assert ev.attributes["description"] == "新华路五街入侵检测报警"
    assert ev.occurred_at == datetime(2025, 3, 14, 15, 12, 45, tzinfo=UTC)  # +08:00 local
    assert ev.location is not None and ev.location.lat == pytest.approx(30.6586)


def test_wim_overweight_against_gb1589() -> None:
    (ev,) = adapt_message(
        "city/overload/g108-wim/overload/native/wim", sample("wim/overweight-6axle.json"), NOW
    ).events
    assert ev.kind == "overweight_vehicle" and ev.wim is not None
    assert ev.wim.limit_kg == 49_000 and ev.wim.overweight
    assert ev.wim.excess_ratio == pytest.approx((61_250 - 49_000) / 49_000, abs=1e-4)
    assert ev.attributes["extra"] == {"temperature_c": 12.5}
    (legal,) = adapt_message(
        "city/overload/g108-wim/overload/native/wim", sample("wim/legal-2axle.json"), NOW
    ).events
    assert legal.wim is not None and not legal.wim.overweight and legal.wim.excess_ratio == 0


@pytest.mark.parametrize(
    ("axles", "form", "limit"),
    [
        (2, "rigid", 18_000),
        (3, "rigid", 25_000),
        (3, "combination", 27_000),
        (4, "rigid", 31_000),
        (4, "combination", 36_000),
        (5, "combination", 43_000),
        (6, "combination", 49_000),
        (8, "combination", 49_000),
    ],
)
def test_gb1589_limits(axles: int, form: VehicleForm, limit: float) -> None:
    assert legal_limit_kg(axles, form) == limit


def test_wim_axle_list_must_match_axle_count() -> None:
    rec = json.loads(sample("wim/legal-2axle.json"))
    rec["axle_weights_kg"] = [1000, 2000, 3000]
    with pytest.raises(AdapterError, match="axle_weights_kg has 3 values"):
        registry.get("wim").adapt(json.dumps(rec).encode(), origin(SourceSystem.overload))


def test_senml_resolves_base_fields_and_splits_names() -> None:
    out = adapt_message(
        "city/citymgmt/xinhua-5th/sensor/readings", sample("senml/air-quality.json"), NOW
    )
    got = {(r.sensor, r.metric, r.time.timestamp(), r.value, r.unit) for r in out.readings}
    assert ("aq-xinhua", "pm25", 1741914060.0, 39.0, "ug/m3") in got
    assert ("aq-xinhua", "temp", 1741914000.0, 14.7, "Cel") in got
    assert ("aq-xinhua", "fan_on", 1741914000.0, None, "ug/m3") in got
    (fan,) = [r for r in out.readings if r.metric == "fan_on"]
    assert fan.value_bool is True
    urn = adapt_message(
        "city/citymgmt/river-park/sensor/native/senml", sample("senml/water-level-urn.json"), NOW
    ).readings
    assert {(r.sensor, r.metric, r.sum) for r in urn} == {
        ("urn:dev:ow:10e2073a01080063", "level", None),
        ("urn:dev:ow:10e2073a01080063", "rain", 12.5),
    }


def test_senml_bad_records_are_rejected_one_by_one() -> None:
    pack = [
        {"bn": "s1/", "bt": 1741914000, "n": "a", "v": 1},
        {"n": "b", "v": "high"},
        {"n": "c", "v": 2, "vs": "text"},
        {"n": "e", "v": 3},
    ]
    out = adapt_message("city/citymgmt/x/sensor/readings", json.dumps(pack).encode(), NOW)
    assert [r.metric for r in out.readings] == ["a", "e"]
    assert len(out.letters) == 2
    assert "v must be a number" in out.letters[0].reason
    assert "more than one value field" in out.letters[1].reason


def test_events_pack_claiming_another_department_is_dead_lettered() -> None:
    body = json.loads(sample("cityhub-events/edge-pack.json"))
    body["events"][1]["department"] = "traffic"
    out = adapt_message("city/police/xinhua-5th/edge/events", json.dumps(body).encode(), NOW)
    assert len(out.events) == 1 and len(out.letters) == 1
    assert "claims department 'traffic'" in out.letters[0].reason
    assert json.loads(out.letters[0].payload)["events"][0]["department"] == "traffic"


def test_events_pack_fills_topic_fields_and_keeps_good_records() -> None:
    body = {
        "events": [
            {"occurred_at": "2025-03-14T12:00:00Z", "kind": "motion", "camera": "c1"},
            {"occurred_at": "yesterday", "kind": "motion"},
            {
                "occurred_at": "2025-03-14T12:00:00Z",
                "kind": "motion",
                "attributes": {"x": "y" * 70_000},
            },
        ]
    }
    out = adapt_message("city/police/xinhua-5th/safecity/events", json.dumps(body).encode(), NOW)
    assert [(e.department, e.site, e.source_system) for e in out.events] == [
        ("police", "xinhua-5th", SourceSystem.safecity)
    ]
    assert len(out.letters) == 2
    assert "occurred_at" in out.letters[0].reason and "exceed" in out.letters[1].reason


def test_native_claims_checked_against_topic() -> None:
    rec = json.loads(sample("anpr-json/plate-read.json"))
    rec["site"] = "elsewhere"
    out = adapt_message(
        "city/traffic/renmin-2nd/traffic/native/anpr-json", json.dumps(rec).encode(), NOW
    )
    assert not out.events and "claims site 'elsewhere'" in out.letters[0].reason


BILLION_LAUGHS = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<EventNotificationAlert><eventType>&lol3;</eventType></EventNotificationAlert>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<Notify><CmdType>&x;</CmdType></Notify>"""
ISAPI = "city/police/xinhua-5th/safecity/native/isapi"
GB = "city/police/xinhua-5th/safecity/native/gb28181"


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (ISAPI, b"<EventNotificationAlert><eventType>VMD</eventType>", "malformed XML"),
        (ISAPI, BILLION_LAUGHS, "forbidden XML construct"),
        (GB, XXE, "forbidden XML construct"),
        (
            GB,
            '<?xml version="1.0" encoding="UTF-8"?><Notify>报警</Notify>'.encode("gb2312"),
            "not valid UTF-8 as declared",
        ),
        (GB, b'<?xml version="1.0" encoding="EBCDIC-XYZ"?><Notify/>', "unsupported XML encoding"),
        (
            ISAPI,
            b"<a>" * 5000 + b"</a>" * 5000,
            "not <EventNotificationAlert>|expected <EventNotificationAlert>",
        ),
        (
            ISAPI,
            b"<EventNotificationAlert><eventType>"
            + b"x" * 300_000
            + b"</eventType></EventNotificationAlert>",
            "exceeds",
        ),
        (
            ISAPI,
            b"<EventNotificationAlert><eventType>"
            + b"x" * 10_000
            + b"</eventType></EventNotificationAlert>",
            "longer than",
        ),
        (
            ISAPI,
            b"<EventNotificationAlert><eventType>VMD</eventType><dateTime>2025-03-14T21:07:43"
            b"+08:00</dateTime><channelID>one</channelID></EventNotificationAlert>",
            "must be an integer",
        ),
        ("city/traffic/renmin-2nd/traffic/native/anpr-json", b"\xff\xfe{}", "not valid UTF-8"),
        (
            "city/traffic/renmin-2nd/traffic/native/anpr-json",
            b"[" * 100_000 + b"]" * 100_000,
            "nested deeper",
        ),
        (
            "city/traffic/renmin-2nd/traffic/native/anpr-json",
            json.dumps({"time": "2025-03-14T08:31:12+08:00", "plate": 12345}).encode(),
            "plate",
        ),
        (
            "city/traffic/renmin-2nd/traffic/native/anpr-json",
            json.dumps({"time": "2025-03-14T08:31:12+08:00", "plate": "A" * 5000}).encode(),
            "plate",
        ),
        (
            "city/overload/g108-wim/overload/native/wim",
            json.dumps(
                {**json.loads(sample("wim/legal-2axle.json")), "gross_kg": "heavy"}
            ).encode(),
            "gross_kg: Input should be a valid number",
        ),
        (
            "city/citymgmt/river-park/citymgmt/native/citycase",
            json.dumps(
                {
                    "case_id": "1",
                    "category": "Z99-99",
                    "status": "reported",
                    "time": "2025-03-14T09:12:00+08:00",
                }
            ).encode(),
            "unknown case category",
        ),
        ("city/police/xinhua-5th/safecity/events", b'{"events": 5}', "expected a JSON object"),
        ("city/police/xinhua-5th/safecity/events", b"null", "expected a JSON object"),
        ("city/citymgmt/x/sensor/readings", b"[" * 100_000 + b"]" * 100_000, "nested deeper"),
        ("city/police/xinhua-5th/safecity/native/nosuch", b"{}", "no adapter for format"),
        (
            "city/police/xinhua-5th/bus/native/isapi",
            sample("isapi/motion.xml"),
            "not accepted on 'bus'",
        ),
        ("city/police/../safecity/events", b"{}", "not a valid identifier"),
        ("city/police/x/+/events", b"{}", "unknown source system"),
        ("weather/today", b"{}", "is not city/"),
    ],
)
def test_hostile_payloads_become_dead_letters(topic: str, payload: bytes, reason: str) -> None:
    out = adapt_message(topic, payload, NOW)
    assert not out.events and not out.readings
    assert len(out.letters) == 1
    import re

    assert re.search(reason, out.letters[0].reason), out.letters[0].reason
    assert out.letters[0].payload == payload[: len(out.letters[0].payload)]


def test_topic_parse_round_trip() -> None:
    r = parse("city/overload/g108-wim/overload/native/wim")
    assert (r.department, r.site, r.system, r.kind, r.format) == (
        "overload",
        "g108-wim",
        SourceSystem.overload,
        "native",
        "wim",
    )
    assert r.topic() == "city/overload/g108-wim/overload/native/wim"
    with pytest.raises(TopicError):
        parse("city/police/x/safecity/native/isapi/extra")


def test_native_ids_are_stable_so_redelivery_dedupes() -> None:
    for path, topic in sample_index().items():
        a = adapt_message(topic, sample(path), NOW)
        b = adapt_message(topic, sample(path), datetime(2026, 1, 1, tzinfo=UTC))
        assert [e.id for e in a.events] == [e.id for e in b.events], path
    t = datetime(2025, 1, 1, tzinfo=UTC)
    u = stable_event_id(t, "x")
    assert u.version == 7 and u != stable_event_id(t, "y")


@pytest.mark.parametrize("fmt", sorted(EXPECTED_FORMATS))
def test_simulators_produce_valid_payloads(fmt: str) -> None:
    adapter = registry.get(fmt)
    rng = random.Random(7)
    for system in adapter.systems[:2]:
        o = origin(system)
        for _ in range(20):
            out = adapter.adapt(adapter.simulate(rng, o, NOW), o)
            assert not out.rejects and (out.events or out.readings)


def test_edge_status_and_health() -> None:
    status = json.dumps({"device": "edge-xinhua-5th", "state": "offline"}).encode()
    (ev,) = adapt_message("city/police/xinhua-5th/edge/status", status, NOW).events
    assert (ev.kind, ev.source_system, ev.severity) == ("edge_offline", SourceSystem.edge, 2)
    health = json.dumps({
        "device": "edge-xinhua-5th", "time": "2025-03-14T12:00:00+00:00", "uptime_s": 12.5,
        "outbox": {"pending": 3, "bytes": 2048}, "uplink": {"connected": True, "last_error": None},
        "clock": {"offset_s": 0.002}, "config_version": "v3",
    }).encode()
    out = adapt_message("city/police/xinhua-5th/edge/health", health, NOW)
    got = {r.metric: r.value for r in out.readings}
    assert got == {"uptime_s": 12.5, "outbox.pending": 3, "outbox.bytes": 2048,
                   "uplink.connected": 1.0, "clock.offset_s": 0.002}
    assert {r.sensor for r in out.readings} == {"edge-xinhua-5th"}
    assert adapt_message("city/police/xinhua-5th/edge/config", b"{}", NOW).letters == []


def test_edge_media_is_kept_only_when_it_is_what_its_topic_says() -> None:
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 100
    mp4 = b"\x00\x00\x00\x18ftypisom" + b"\x00" * 100
    sha = hashlib.sha256
    for body, ctype in ((jpeg, "image/jpeg"), (mp4, "video/mp4")):
        out = adapt_message(f"city/police/x/edge/media/{sha(body).hexdigest()}", body, NOW)
        (blob,) = out.media
        assert (blob.content_type, blob.data, blob.department, blob.site) == (
            ctype, body, "police", "x")
        assert out.events == out.letters == []
    bad = [
        (f"city/police/x/edge/media/{sha(jpeg).hexdigest()}", jpeg + b"!", "does not match"),
        (f"city/police/x/edge/media/{sha(b'MZ').hexdigest()}", b"MZ", "neither a JPEG"),
        ("city/police/x/edge/media/NOT-A-SHA", jpeg, "64 hex digits"),
        (f"city/police/x/safecity/media/{sha(jpeg).hexdigest()}", jpeg, "unexpected levels"),
    ]
    for topic, body, reason in bad:
        out = adapt_message(topic, body, NOW)
        assert out.media == [] and len(out.letters) == 1 and reason in out.letters[0].reason
