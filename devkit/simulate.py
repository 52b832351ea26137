"""``cityhub simulate <system> --rate N``: realistic traffic from the city's systems over MQTT.

Each system publishes its native payloads (made by the adapters' simulators) on
``city/{department}/{site}/{system}/native/{format}``; sensors publish SenML packs
on ``.../sensor/readings`` and edge boxes cityhub event packs on ``.../edge/events``.
The rate counts records (events or readings) per second.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import random
import signal
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from adapters import registry
from adapters.base import Origin
from adapters.native import CityhubEventsAdapter
from adapters.senml import SenmlAdapter
from core.model import SourceSystem
from core.mqtt import MqttClient
from core.topics import ROOT
from devkit.onvif.options import add_arguments as add_onvif_arguments
from hub.config import load_config

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    system: SourceSystem
    department: str
    site: str
    formats: tuple[str, ...]  #: native formats, or ("senml",) / ("cityhub-events",) for packs


#: The demo city's sources (devkit/demo/city.yaml); --department/--site override them.
DEFAULT_SOURCES = {
    "safecity": Source(SourceSystem.safecity, "police", "xinhua-5th", ("isapi", "gb28181")),
    "traffic": Source(SourceSystem.traffic, "traffic", "renmin-2nd", ("isapi", "anpr-json")),
    "overload": Source(SourceSystem.overload, "overload", "g108-wim", ("wim",)),
    "citymgmt": Source(SourceSystem.citymgmt, "citymgmt", "river-park", ("citycase",)),
    "bus": Source(SourceSystem.bus, "bus", "depot-east", ("bus",)),
    "sensor": Source(SourceSystem.sensor, "citymgmt", "xinhua-5th", ("senml",)),
    "edge": Source(SourceSystem.edge, "police", "xinhua-5th", ("cityhub-events",)),
}


class Simulator:
    """Makes (topic, payload, records) for one source."""

    def __init__(self, source: Source, rng: random.Random, pack: int,
                 faulty_every: int = 0) -> None:
        self.source = source
        self.rng = rng
        self.pack = max(1, pack)
        self._formats = itertools.cycle(source.formats)
        #: Every Nth native message is cut short, as a device with a firmware bug sends it
        #: (the hub dead-letters it; 0: never). Packs are never spoiled.
        self.faulty_every = faulty_every
        self._native = 0

    def next(self) -> tuple[str, bytes, int]:
        """(topic, payload, records it carries: events plus readings, as ingest will count)."""
        s = self.source
        now = datetime.now(UTC)
        origin = Origin(s.department, s.site, s.system, now)
        fmt = next(self._formats)
        adapter = registry.get(fmt)
        base = f"{ROOT}/{s.department}/{s.site}/{s.system.value}"
        if isinstance(adapter, SenmlAdapter):
            per = max(1, self.pack // 4)
            topic = f"{base}/readings"
            payload = adapter.simulate(self.rng, origin, now, sensors=4, per_sensor=per)
        elif isinstance(adapter, CityhubEventsAdapter):
            topic = f"{base}/events"
            payload = adapter.simulate(self.rng, origin, now, count=self.pack)
        else:
            topic, payload = f"{base}/native/{fmt}", adapter.simulate(self.rng, origin, now)
            self._native += 1
            if self.faulty_every and self._native % self.faulty_every == 0:
                return topic, payload[: len(payload) // 2], 0
        out = adapter.adapt(payload, origin)
        return topic, payload, len(out.events) + len(out.readings)


async def simulate(
    broker_url: str,
    sources: list[Source],
    rate: float,
    duration: float | None = None,
    count: int | None = None,
    pack: int = 50,
    seed: int | None = None,
    client_id: str = "cityhub-simulate",
    stop: asyncio.Event | None = None,
    faulty_every: int = 0,
) -> dict[str, int]:
    """Publish about ``rate`` records/s across ``sources`` until duration/count/stop."""
    rng = random.Random(seed)
    sims = [Simulator(s, rng, pack, faulty_every) for s in sources]
    stop = stop or asyncio.Event()
    sent_records = sent_messages = 0
    inflight: set[asyncio.Future[None]] = set()
    async with MqttClient(broker_url, client_id) as client:
        start = time.monotonic()
        due = 0.0
        cycle = itertools.cycle(sims)
        while not stop.is_set():
            elapsed = time.monotonic() - start
            if (duration is not None and elapsed >= duration) or (
                count is not None and sent_records >= count
            ):
                break
            due = rate * elapsed
            while sent_records < due and (count is None or sent_records < count):
                topic, payload, n = next(cycle).next()
                fut = client.publish_nowait(topic, payload)
                inflight.add(fut)
                fut.add_done_callback(inflight.discard)
                sent_records += n
                sent_messages += 1
                if len(inflight) > MAX_INFLIGHT:
                    await _room(inflight, stop)
                    if stop.is_set():
                        break
            await asyncio.sleep(0.05)
        unconfirmed = await _drain(inflight, DRAIN_S)
    return {"records": sent_records, "messages": sent_messages, "unconfirmed": unconfirmed}


#: Publishes awaiting the broker's acknowledgement before the simulator holds back.
MAX_INFLIGHT = 2000

#: Seconds a stopping simulator waits for the broker to acknowledge what it published.
DRAIN_S = 5.0


async def _room(inflight: set[asyncio.Future[None]], stop: asyncio.Event) -> None:
    """Until an acknowledgement frees room or the simulator is told to stop.

    While the broker is away nothing is acknowledged; waiting on the publishes alone made a
    full simulator deaf to SIGTERM (soak runs left such simulators behind).
    """
    stopping: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
    waits: set[asyncio.Future[Any]] = {*inflight, stopping}
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()


async def _drain(inflight: set[asyncio.Future[None]], timeout: float) -> int:
    """Wait a bounded time for acknowledgements; how many were still unconfirmed.

    Without the bound a simulator whose broker had gone waited forever on stop, so a
    supervisor's SIGTERM never ended it (messages queued while disconnected stay pending).
    """
    if not inflight:
        return 0
    _done, pending = await asyncio.wait(set(inflight), timeout=timeout)
    for fut in pending:  # failed by the client's close: counted here, not logged as ERROR
        fut.add_done_callback(_seen)
    return len(pending)


def _seen(fut: asyncio.Future[None]) -> None:
    if not fut.cancelled():
        fut.exception()


def _sources(args: argparse.Namespace) -> list[Source]:
    names = list(DEFAULT_SOURCES) if args.system == "all" else [args.system]
    out = []
    for name in names:
        s = DEFAULT_SOURCES[name]
        out.append(
            Source(s.system, args.department or s.department, args.site or s.site, s.formats)
        )
    return out


def _run(args: argparse.Namespace) -> int:
    if args.system == "gb28181-device":
        from devkit.gb28181_device import run_cli  # noqa: PLC0415  lazy: only the chosen simulator loads (GStreamer)

        return run_cli(args)
    if args.system == "onvif-camera":
        from devkit.onvif.camera import run_cli as run_onvif  # noqa: PLC0415  lazy: only the chosen simulator loads

        return run_onvif(args)
    if args.system == "gb28181-upper":
        from devkit.gb28181_upper import run_cli as run_upper  # noqa: PLC0415  lazy: only the chosen simulator loads

        return run_upper(args)

    broker = args.broker or load_config(args.config).broker.url
    if not broker:
        raise SystemExit(
            "simulate needs a broker: --broker mqtt://host:port or broker.url in --config"
        )

    async def main() -> dict[str, int]:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        return await simulate(
            broker,
            _sources(args),
            args.rate,
            args.duration,
            args.count,
            args.pack,
            args.seed,
            client_id=args.client_id,
            stop=stop,
            faulty_every=args.faulty_every,
        )

    print(json.dumps(asyncio.run(main())), flush=True)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulate", help="publish simulated traffic of a city system over MQTT")
    p.add_argument("system", choices=[*DEFAULT_SOURCES, "all", "gb28181-device", "gb28181-upper",
                                      "onvif-camera"],
                   help="which system (or all); gb28181-device: a simulated GB/T 28181 device;"
                        " gb28181-upper: a simulated upper platform the hub cascades to;"
                        " onvif-camera: simulated ONVIF PTZ cameras")
    p.add_argument("--rate", type=float, default=10.0, help="records (events/readings) per second")
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    p.add_argument("--count", type=int, help="stop after this many records")
    p.add_argument("--pack", type=int, default=50, help="records per message for sensor/edge packs")
    p.add_argument("--department", help="department in the topic (default: the demo city's)")
    p.add_argument("--site", help="site in the topic (default: the demo city's)")
    p.add_argument("--broker", help="broker URL (default: broker.url of --config)")
    p.add_argument("--config", help="cityhub YAML configuration")
    p.add_argument("--seed", type=int, help="random seed, for reproducible traffic")
    p.add_argument("--client-id", default="cityhub-simulate", help="MQTT client id")
    p.add_argument("--faulty-every", type=int, default=0, metavar="N",
                   help="cut every Nth native message short, as a faulty device would"
                        " (dead letters to inspect; default: never)")
    g = p.add_argument_group("gb28181-device")
    g.add_argument("--server", default="127.0.0.1:5060", help="the platform's SIP host:port")
    g.add_argument("--sip-transport", choices=["udp", "tcp"], default="udp")
    g.add_argument("--device-id", default="34020000001320000001", help="20-digit device ID")
    g.add_argument("--password", default="",
                   help="digest password (or CITYHUB_GB_PASSWORD; onvif-camera: "
                   "CITYHUB_ONVIF_PASSWORD)")
    g.add_argument("--platform-id", default="34020000002000000001", help="the platform's ID")
    g.add_argument("--channels", type=int, default=4, help="channels in its catalog")
    g.add_argument("--keepalive", type=float, default=60.0, help="keepalive interval (s)")
    g.add_argument("--codec", choices=["h264", "h265"], default="h264")
    add_onvif_arguments(p.add_argument_group("onvif-camera"))
    u = p.add_argument_group("gb28181-upper")
    u.add_argument("--listen", default="127.0.0.1:5062", help="its SIP host:port")
    u.add_argument("--upper-id", default="51000000002000000001", help="its 20-digit ID")
    u.add_argument("--lower-id", default="34020000002000000001",
                   help="the hub's ID as it knows it (the only lower platform it accepts)")
    p.set_defaults(func=_run)
