"""SenML cases written from RFC 8428 (sections cited per test), not from the code."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters import registry
from adapters.base import AdapterError, Origin
from core.model import SourceSystem

RECEIVED = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
ORIGIN = Origin("citymgmt", "river-park", SourceSystem.sensor, RECEIVED)


def adapt(pack: list[dict[str, Any]]):
    return registry.get("senml").adapt(json.dumps(pack).encode(), ORIGIN)


def test_rfc_5_1_2_multiple_data_points_share_a_base_name() -> None:
    out = adapt(
        [
            {"bn": "urn:dev:ow:10e2073a01080063:", "n": "voltage", "u": "V", "v": 120.1},
            {"n": "current", "u": "A", "v": 1.2},
        ]
    )
    got = {(r.sensor, r.metric, r.unit, r.value) for r in out.readings}
    assert got == {
        ("urn:dev:ow:10e2073a01080063", "voltage", "V", 120.1),
        ("urn:dev:ow:10e2073a01080063", "current", "A", 1.2),
    }
    # 4.5.3: no time means "now", i.e. when the pack was received
    assert {r.time for r in out.readings} == {RECEIVED}


def test_rfc_5_1_3_relative_times_and_chronological_resolved_records() -> None:
    """4.5.3 and 4.6: t is added to bt; resolved records are in chronological order."""
    out = adapt(
        [
            {
                "bn": "urn:dev:ow:10e2073a01080063:",
                "bt": 1.276020076001e09,
                "bu": "A",
                "bver": 5,
                "n": "voltage",
                "u": "V",
                "v": 120.1,
            },
            {"n": "current", "t": -5, "v": 1.2},
            {"n": "current", "t": -4, "v": 1.3},
            {"n": "current", "t": -3, "v": 1.4},
            {"n": "current", "t": -2, "v": 1.5},
            {"n": "current", "t": -1, "v": 1.6},
            {"n": "current", "v": 1.7},
        ]
    )
    times = [r.time.timestamp() for r in out.readings]
    assert times == sorted(times)
    assert out.readings[0].value == 1.2 and out.readings[0].unit == "A"
    assert times[0] == pytest.approx(1276020076.001 - 5)
    assert not out.rejects


def test_relative_times_resolve_against_the_receive_time_not_the_parse_clock() -> None:
    """4.5.3: values below 2**28 are relative to the current time, which for a message that
    waited in a broker is when the hub received it."""
    (r,) = adapt([{"n": "tank-3/level", "t": -30, "v": 2.5}]).readings
    assert r.time == RECEIVED - timedelta(seconds=30)


def test_values_of_every_type_and_sums_beside_values_are_kept() -> None:
    """4.2/4.3: v, vs, vb, vd values, s sums (with bs), ut update time."""
    data = base64.urlsafe_b64encode(b"\x00\x01\xfe\xff binary").rstrip(b"=").decode()
    out = adapt(
        [
            {
                "bn": "meter-7/",
                "bt": 1741914000,
                "bs": 100.0,
                "n": "energy",
                "u": "kWh",
                "v": 3.5,
                "s": 20.25,
                "ut": 60,
            },
            {"n": "door", "vb": False, "t": 1},
            {"n": "state", "vs": "  Stolen ", "t": 2},
            {"n": "blob", "vd": data, "t": 3},
            {"n": "rain", "u": "mm", "s": 12.5, "t": 4},
        ]
    )
    assert not out.rejects
    by = {r.metric: r for r in out.readings}
    assert (by["energy"].value, by["energy"].sum, by["energy"].update_s) == (3.5, 120.25, 60.0)
    assert by["door"].value_bool is False and by["door"].value is None
    assert by["state"].value_text == "  Stolen "  # a string value is kept as sent
    assert by["blob"].value_data == b"\x00\x01\xfe\xff binary"
    assert (by["rain"].value, by["rain"].sum) == (None, 112.5)


def test_a_must_understand_field_rejects_the_whole_pack() -> None:
    """4.4: a field whose label ends in "_" that is not understood: reject the entire pack."""
    with pytest.raises(AdapterError, match="must-understand"):
        adapt(
            [
                {"bn": "s1/", "n": "a", "v": 1},
                {"n": "b", "v": 2, "rfc9999_": 1},
                {"n": "c", "v": 3},
            ]
        )


def test_a_later_version_is_refused() -> None:
    """4.4: bver is the pack's version; this adapter reads version 10."""
    with pytest.raises(AdapterError, match="bver"):
        adapt([{"bn": "s1/", "bver": 11, "n": "a", "v": 1}])


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"n": "a", "v": 1, "vs": "x"}, "more than one value field"),  # 4.3: exactly one
        ({"n": "a"}, "no value"),
        ({"n": "a", "v": "1"}, "v must be a number"),  # numbers as strings
        ({"n": "a", "vb": "true"}, "vb must be true or false"),
        ({"n": "a", "vd": "AAE="}, "vd must be base64url"),  # padding is omitted
        ({"n": "a", "vd": "AA+/"}, "vd must be base64url"),  # URL-safe alphabet only
        ({"n": "a b", "v": 1}, "n:"),  # 4.5.1: name characters
        ({"bn": "-x/", "n": "a", "v": 1}, "n:"),  # 4.5.1: first character alphanumeric
        ({"n": "a", "v": 1, "t": 1e10}, "t:"),  # year 2286: not a plausible reading
        ({"n": "a", "v": 1, "t": -1.5e9}, "t:"),  # before 2000
        ({"n": "a\u202e", "v": 1}, "n:"),
        ({"n": "a", "vs": "x\x00y"}, "value_text"),
    ],
)
def test_bad_records_are_refused_one_by_one_naming_the_field(
    record: dict[str, Any], reason: str
) -> None:
    out = adapt([{"bn": "s1/", "n": "ok", "v": 1}, record])
    assert [r.metric for r in out.readings] == ["ok"]
    (reject,) = out.rejects
    assert reason in reject.reason


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        # 4.5.3: "Values less than 268,435,456 (2**28) represent time relative to the
        # current time": zero, small and large negative values alike.
        (0, RECEIVED),
        (-(2**28) - 100, RECEIVED - timedelta(seconds=2**28 + 100)),  # ~8.5 years before
        (2**28 - 1, RECEIVED + timedelta(seconds=2**28 - 1)),  # relative, in the future
    ],
)
def test_rfc_4_5_3_every_time_below_2_pow_28_is_relative(t: float, expected: datetime) -> None:
    (r,) = adapt([{"n": "tank-3/level", "t": t, "v": 2.5}]).readings
    assert r.time == expected


def test_rfc_4_5_3_from_2_pow_28_a_time_is_absolute() -> None:
    """2**28 itself is an absolute time (1978-07-04): a wrong clock, refused naming t."""
    out = adapt([{"n": "tank-3/level", "t": 2**28, "v": 2.5}])
    assert out.readings == [] and "t:" in out.rejects[0].reason


def test_rfc_4_4_a_must_understand_field_in_a_base_only_record_rejects_the_pack() -> None:
    with pytest.raises(AdapterError, match="must-understand"):
        adapt([{"bn": "s1/", "bt": 1741914000, "geo_": {"lat": 1}}, {"n": "a", "v": 1}])


def test_rfc_4_4_unknown_fields_without_underscore_are_ignored() -> None:
    """4.4: only labels ending in "_" must be understood; others may be ignored."""
    (r,) = adapt([{"bn": "s1/", "n": "a", "v": 1, "vendorx": "whatever"}]).readings
    assert (r.sensor, r.metric, r.value) == ("s1", "a", 1.0)
