"""Fuzz every adapter: arbitrary bytes and mutated valid payloads.

Whatever arrives, an adapter raises nothing but ``AdapterError``, and what it returns
holds no NaN or infinity, no mojibake (replacement characters, or private-use
characters made by a wrong legacy codec) and no implausible time.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters import registry
from adapters.base import Adapted, AdapterError, Origin
from adapters.model import Event, Reading
from core.topics import parse
from tests.test_adapters import sample_index

NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
EARLIEST, LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
FORMATS = sorted(registry.adapters())
XML_FORMATS = {"isapi", "gb28181"}
FUZZ = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)
#: Values a hostile or broken device sends in place of a field.
HOSTILE_TEXT = st.characters(blacklist_categories=("Cs", "Co", "Cn"), blacklist_characters="\ufffd")
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(HOSTILE_TEXT, max_size=40),
    st.sampled_from(
        [
            "9999-12-31T23:59:59-05:00",
            "1900-01-01T00:00:00",
            "0001-01-01T00:00:00+14:00",
            "49001",
            "1e309",
            "川A\u202e12345",
            "川A\x0012345",
            "\x85",
            "",
            "x" * 5000,
        ]
    ),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


def origin(fmt: str) -> Origin:
    """The origin of the format's samples (so that valid payloads pass their claims)."""
    topic = next(t for p, t in sample_index().items() if p.startswith(f"{fmt}/"))
    route = parse(topic)
    system = route.system if route.system in registry.get(fmt).systems else None
    return Origin(route.department, route.site, system or registry.get(fmt).systems[0], NOW)


def _strings_and_floats(value: Any) -> tuple[list[str], list[float]]:
    strings, floats, stack = [], [], [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            strings.append(v)
        elif isinstance(v, float):
            floats.append(v)
        elif isinstance(v, dict):
            stack += [*v.keys(), *v.values()]
        elif isinstance(v, list | tuple):
            stack += list(v)
    return strings, floats


def check(fmt: str, payload: bytes) -> None:
    adapter = registry.get(fmt)
    try:
        out: Adapted = adapter.adapt(payload, origin(fmt))
    except AdapterError:
        return
    records: list[Event | Reading] = [*out.events, *(r.to_model() for r in out.readings)]
    for rec in records:
        when = rec.occurred_at if isinstance(rec, Event) else rec.time
        assert EARLIEST <= when < LATEST, when
        strings, floats = _strings_and_floats(rec.model_dump())
        assert all(math.isfinite(f) for f in floats), floats
        assert not any("\ufffd" in s for s in strings)
        if fmt in XML_FORMATS:  # what a wrong legacy codec makes of bytes
            assert not any(re.search("[\ue000-\uf8ff]", s) for s in strings), strings


def samples(fmt: str) -> list[bytes]:
    found = list(registry.get(fmt).samples().values())
    assert found, f"{fmt} ships no samples"
    return found


@pytest.mark.parametrize("fmt", FORMATS)
@FUZZ
@given(payload=st.binary(max_size=3000))
def test_arbitrary_bytes(fmt: str, payload: bytes) -> None:
    check(fmt, payload)


@pytest.mark.parametrize("fmt", FORMATS)
@FUZZ
@given(data=st.data())
def test_byte_mutations_of_valid_payloads(fmt: str, data: st.DataObject) -> None:
    payload = bytearray(data.draw(st.sampled_from(samples(fmt))))
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, max(0, len(payload) - 1)))
        op = data.draw(st.sampled_from(["set", "insert", "delete"]))
        byte = data.draw(st.integers(0, 255))
        if op == "set" and payload:
            payload[pos] = byte
        elif op == "insert":
            payload.insert(pos, byte)
        elif payload:
            del payload[pos]
    check(fmt, bytes(payload))


def _json_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _json_paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _json_paths(v, (*path, i))
    return out


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replace(copy[path[0]], path[1:], new)
    return copy


_TEXT = re.compile(rb">([^<>]*)<")


@pytest.mark.parametrize("fmt", FORMATS)
@FUZZ
@given(data=st.data())
def test_field_mutations_of_valid_payloads(fmt: str, data: st.DataObject) -> None:
    """Each field of a valid payload replaced by what a broken or hostile device sends."""
    payload = data.draw(st.sampled_from(samples(fmt)))
    for _ in range(data.draw(st.integers(1, 3))):
        if fmt in XML_FORMATS:
            spots = list(_TEXT.finditer(payload))
            m = data.draw(st.sampled_from(spots))
            leaf = data.draw(LEAVES)
            text = "" if leaf is None else str(leaf)
            escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            codec = "gb18030" if b"GB2312" in payload[:60] else "utf-8"
            new = escaped.encode(codec, "xmlcharrefreplace")
            payload = payload[: m.start(1)] + new + payload[m.end(1) :]
        else:
            doc = json.loads(payload)
            path = data.draw(st.sampled_from(_json_paths(doc)))
            doc = _replace(doc, path, data.draw(LEAVES))
            payload = json.dumps(doc, ensure_ascii=data.draw(st.booleans())).encode()
    check(fmt, payload)
