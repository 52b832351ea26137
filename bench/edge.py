"""Edge store-and-forward throughput: ``python -m bench.edge`` prints one JSON object.

Against a private Mosquitto on loopback, in one process (as on a box):

A QoS 1 subscriber stands in for the hub's ingest (the box requires one: a PUBACK
"no matching subscribers" keeps the rows in the outbox).

* ``baseline_paho_qos1_events_per_s``: raw paho, no outbox, at the same batching as
  the box (``batch_max`` events per ``{"events": [...]}`` message, read from the
  configuration used), and ``..._unbatched``: one event per message, what a naive
  publisher gets;
* ``live_events_per_s``: events committed to the SQLite outbox (synchronous=FULL)
  by a producer as fast as it can, published and deleted on PUBACK;
* ``drain_events_per_s``: a 100k-event backlog (stored while "offline") draining
  oldest-first while live events keep arriving at ``live_rate_during_drain``;
  ``live_latency_ms_p50/p99`` are put-to-PUBACK times of those live events.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

from adapters.model import Event, new_event_id, utcnow
from bench.report import finish
from core.model import SourceSystem
from devkit.embedded import EmbeddedBroker
from edge.config import EdgeConfig, OutboxConfig
from edge.outbox import Message, Outbox
from edge.publisher import Publisher
from edge.uplink import Uplink

TOPIC = "city/police/bench-site/edge/events"


def event_body() -> bytes:
    e = Event(
        occurred_at=utcnow(),
        source_system=SourceSystem.edge,
        kind="line_crossing",
        department="police",
        site="bench-site",
        camera="cam1",
        device="box1",
        attributes={"line": "mid", "direction": "in", "track": 17, "box": [0.4, 0.4, 0.1, 0.1]},
    )
    return e.model_dump_json().encode()


TEMPLATE = event_body()


def body() -> bytes:
    return TEMPLATE.replace(TEMPLATE[7:43], str(new_event_id()).encode(), 1)


class TimedOutbox(Outbox):
    """Records when each row was deleted (its PUBACK processed)."""

    def __init__(self, *a, **kw) -> None:
        super().__init__(*a, **kw)
        self.deleted_at: dict[int, float] = {}

    def delete(self, rows) -> None:
        rows = list(rows)
        super().delete(rows)
        now = time.monotonic()
        for r in rows:
            self.deleted_at[r.seq] = now


def hub_subscriber(port: int) -> mqtt.Client:
    """Stands in for the hub's ingest: subscribed at QoS 1 (in another thread of this process)."""
    ready = threading.Event()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, client_id="bench-hub")
    c.on_subscribe = lambda *_a: ready.set()
    c.connect("127.0.0.1", port)
    c.subscribe("city/#", qos=1)
    c.loop_start()
    if not ready.wait(10):
        raise RuntimeError("bench subscriber could not subscribe")
    return c


class RunTimeout(Exception):
    """A phase did not finish in time: the run is invalid."""


def baseline_paho(port: int, n: int, batch: int, timeout: float) -> float:
    """Events/s of raw paho at QoS 1, ``batch`` events per message."""
    done = threading.Event()
    n = max(1, n // batch)  # messages
    acked = [0]

    def on_publish(*_a: object) -> None:
        acked[0] += 1
        if acked[0] >= n:
            done.set()

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, client_id="bench-raw")
    c.on_publish = on_publish
    c.max_inflight_messages_set(100)
    c.connect("127.0.0.1", port)
    c.loop_start()
    t0 = time.perf_counter()
    for _ in range(n):
        c.publish(TOPIC, b'{"events":[' + b",".join(body() for _ in range(batch)) + b"]}", qos=1)
    finished = done.wait(timeout)
    rate = n * batch / (time.perf_counter() - t0)
    c.loop_stop()
    c.disconnect()
    if not finished:
        raise RunTimeout(f"baseline ({batch} per message): {acked[0]}/{n} acked in {timeout}s")
    return rate


def config(url: str, state: Path, drain_rate: float) -> EdgeConfig:
    return EdgeConfig.model_validate(
        {
            "device": "box1",
            "state_dir": str(state),
            "site": {"id": "bench-site", "name": "Bench", "department": "police"},
            "uplink": {
                "broker": {"url": url, "client_id": f"bench-{time.monotonic_ns()}"},
                "drain_rate": drain_rate,
            },
        }
    )


async def run_live(url: str, state: Path, seconds: float) -> float:
    """Producer as fast as it can (batches of 50 per commit); events acked per second."""
    cfg = config(url, state, 1e6)
    box = TimedOutbox(state / "live.db", OutboxConfig())
    uplink = Uplink(cfg)
    pub = Publisher(box, uplink, cfg.uplink)
    uplink.start()
    await uplink.connected.wait()
    task = asyncio.create_task(pub.run())
    loop = asyncio.get_running_loop()
    stop = threading.Event()

    def produce() -> None:
        while not stop.is_set():
            if box.stats()["depth"] > 20_000:  # do not measure an ever-growing queue
                time.sleep(0.01)
                continue
            box.put_many([Message(TOPIC, body()) for _ in range(50)])
            loop.call_soon_threadsafe(pub.notify)

    thread = threading.Thread(target=produce, daemon=True)
    await asyncio.sleep(0.5)
    thread.start()
    await asyncio.sleep(1.0)  # warm up
    a0, t0 = pub.acked["live"], time.perf_counter()
    await asyncio.sleep(seconds)
    rate = (pub.acked["live"] - a0) / (time.perf_counter() - t0)
    stop.set()
    thread.join()
    task.cancel()
    await uplink.stop()
    box.close()
    return rate


async def run_drain(
    url: str, state: Path, backlog: int, live_rate: float, drain_rate: float, timeout: float
) -> dict[str, float]:
    cfg = config(url, state, drain_rate)
    box = TimedOutbox(state / "drain.db", OutboxConfig())
    for _ in range(backlog // 1000):  # stored while the uplink was down
        box.put_many([Message(TOPIC, body()) for _ in range(1000)])
    uplink = Uplink(cfg)
    pub = Publisher(box, uplink, cfg.uplink)
    uplink.start()
    await uplink.connected.wait()
    task = asyncio.create_task(pub.run())
    loop = asyncio.get_running_loop()
    put_at: dict[int, float] = {}
    stop = threading.Event()

    def produce() -> None:  # live events at a steady rate, 10 per commit
        interval = 10 / live_rate
        nxt = time.monotonic()
        while not stop.is_set():
            seqs = box.put_many([Message(TOPIC, body()) for _ in range(10)])
            now = time.monotonic()
            for s in seqs:
                put_at[s] = now
            loop.call_soon_threadsafe(pub.notify)
            nxt += interval
            time.sleep(max(0.0, nxt - time.monotonic()))

    t0 = time.perf_counter()
    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while pub.acked["backlog"] < backlog and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    drained = pub.acked["backlog"]
    elapsed = time.perf_counter() - t0
    stop.set()
    thread.join()
    await asyncio.sleep(0.5)
    task.cancel()
    await uplink.stop()
    lat = sorted((box.deleted_at[s] - t) * 1000 for s, t in put_at.items() if s in box.deleted_at)
    box.close()
    if drained < backlog:
        raise RunTimeout(f"drain: {drained}/{backlog} backlog events acked in {timeout}s")
    return {
        "drain_events_per_s": backlog / elapsed,
        "drain_seconds": elapsed,
        "live_during_drain_events_per_s": len(lat) / elapsed,
        "live_latency_ms_p50": statistics.median(lat) if lat else float("nan"),
        "live_latency_ms_p99": lat[int(len(lat) * 0.99)] if lat else float("nan"),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.edge", description=__doc__.split("\n")[0])
    p.add_argument("--backlog", type=int, default=100_000)
    p.add_argument("--live-rate", type=float, default=500.0, help="live events/s during the drain")
    p.add_argument(
        "--drain-rate", type=float, default=20_000.0, help="uplink.drain_rate for the run"
    )
    p.add_argument("--seconds", type=float, default=8.0, help="duration of the live-only phase")
    p.add_argument("--baseline-events", type=int, default=20_000)
    p.add_argument("--timeout", type=float, default=300.0, help="per phase; exceeded = invalid")
    a = p.parse_args(argv)
    problems: list[str] = []
    result: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker(Path(tmp) / "mqtt") as broker:
        state = Path(tmp)
        batch_max = config(broker.url, state, a.drain_rate).uplink.batch_max
        hub = hub_subscriber(broker.port)  # the box publishes only what a consumer receives
        try:
            batched = baseline_paho(broker.port, a.baseline_events, batch_max, a.timeout)
            single = baseline_paho(broker.port, a.baseline_events, 1, a.timeout)
            live = asyncio.run(run_live(broker.url, state, a.seconds))
            drain = asyncio.run(
                run_drain(broker.url, state, a.backlog, a.live_rate, a.drain_rate, a.timeout)
            )
            result = {
                "live_events_per_s": round(live),
                "drain_events_per_s": round(drain.pop("drain_events_per_s")),
                "baseline_paho_qos1_events_per_s": round(batched),
                "baseline_paho_qos1_events_per_s_unbatched": round(single),
                **{k: round(v, 2) for k, v in drain.items()},
            }
        except RunTimeout as exc:
            problems.append(f"timeout: {exc}")
        finally:
            hub.loop_stop()
            hub.disconnect()
    result.update({
        "backlog_events": a.backlog,
        "drain_rate_limit": a.drain_rate,
        "live_rate_during_drain": a.live_rate,
        "event_bytes": len(TEMPLATE),
        "batch_max": batch_max,
        "outbox_synchronous": "full",
    })
    return finish("edge", result, problems)


if __name__ == "__main__":
    sys.exit(main())
