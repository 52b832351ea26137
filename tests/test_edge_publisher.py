"""The publisher on a real broker: backlog oldest-first on its own lane while live events flow."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from adapters.model import new_event_id
from devkit.fixtures.wait import until
from edge.config import EdgeConfig
from edge.outbox import Message, Outbox
from edge.publisher import Publisher
from edge.uplink import Uplink

TOPIC = "city/police/xinhua-5th/edge/events"


def event(kind: str) -> tuple[str, bytes]:
    i = str(new_event_id())
    return i, json.dumps({"id": i, "kind": kind}).encode()


def test_backlog_drains_oldest_first_while_live_events_keep_flowing(
        tmp_path: Path, broker, recorder_factory) -> None:
    rec = recorder_factory(broker.url, TOPIC)
    cfg = EdgeConfig.model_validate({
        "device": "box1", "state_dir": str(tmp_path),
        "site": {"id": "xinhua-5th", "name": "X", "department": "police"},
        "uplink": {"broker": {"url": broker.url}, "drain_rate": 1000, "batch_max": 50},
    })
    box = Outbox(tmp_path / "outbox.db")
    backlog = [event("backlog") for _ in range(3000)]  # stored while the uplink was down
    box.put_many([Message(TOPIC, b) for _, b in backlog])
    live: list[str] = []

    async def main() -> dict[str, object]:
        uplink = Uplink(cfg)
        pub = Publisher(box, uplink, cfg.uplink)
        uplink.start()
        task = asyncio.create_task(pub.run())
        # connected: from now on new events are live
        await until(lambda: pub.watermark != 0, 30, "the publisher connected", step=0.01)
        while pub.acked["backlog"] < len(backlog):
            i, b = event("live")
            box.put(Message(TOPIC, b))
            live.append(i)
            pub.notify()
            await asyncio.sleep(0.05)  # the point: live events keep coming at a pace
        await until(lambda: not box.stats()["depth"], 30, "the outbox drained")
        stats = pub.stats()
        task.cancel()
        await uplink.stop()
        return stats

    stats = asyncio.run(main())
    rec.wait(lambda r: len(set(r.order)) >= len(backlog) + len(live), 20, "all events")
    backlog_ids = [i for i, _ in backlog]
    arrived_backlog = [i for i in dict.fromkeys(rec.order) if i in set(backlog_ids)]
    assert arrived_backlog == backlog_ids  # oldest first
    last_backlog = max(rec.order.index(i) for i in backlog_ids)
    assert live and sum(rec.order.index(i) < last_backlog for i in live) >= len(live) // 2
    assert stats["acked"] == {"backlog": len(backlog), "live": len(live)}
    assert box.stats()["depth"] == 0
