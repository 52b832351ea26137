"""``cityhub simulate --faulty-every N``: every Nth native message is cut short and refused by
its adapter (a dead letter for the demo's admins), and counts no records; packs never."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from adapters import registry
from adapters.base import AdapterError, Origin
from devkit.simulate import DEFAULT_SOURCES, Simulator


def test_every_nth_native_message_is_spoiled_and_counts_nothing() -> None:
    source = DEFAULT_SOURCES["traffic"]
    sim = Simulator(source, random.Random(7), pack=5, faulty_every=3)
    made = [sim.next() for _ in range(9)]
    spoiled = [i for i, (_topic, _payload, records) in enumerate(made) if records == 0]
    assert spoiled == [2, 5, 8]
    for i in spoiled:
        topic, payload, _ = made[i]
        fmt = topic.rsplit("/", 1)[-1]
        origin = Origin(source.department, source.site, source.system, datetime.now(UTC))
        try:
            out = registry.get(fmt).adapt(payload, origin)
        except AdapterError:
            continue  # the whole payload refused: a dead letter
        assert out.rejects and not out.events, (fmt, payload[:80])


def test_packs_are_never_spoiled() -> None:
    sim = Simulator(DEFAULT_SOURCES["sensor"], random.Random(7), pack=8, faulty_every=1)
    assert all(records > 0 for _t, _p, records in (sim.next() for _ in range(5)))
