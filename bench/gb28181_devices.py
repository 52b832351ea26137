"""Many simulated GB/T 28181 devices in one process (one asyncio loop), for bench.gb28181.

Each is a ``devkit.gb28181_device.DeviceSim`` on its own UDP port: it registers with
digest (``--concurrency`` at a time), then keeps alive every ``--keepalive`` seconds from a
random phase (as a city's devices do, not in lockstep); a 403 (the platform forgot it)
makes it register again, which is counted. With ``--clips`` each device answers INVITE
with PS over RTP of its looped clip (device i the i-th clip, the same clip the synthetic
RTSP camera of that name serves). Progress is written to ``--status`` (JSON) every second.

    python -m bench.gb28181_devices --server 127.0.0.1:5060 --first 0 --count 2000 \
        --keepalive 10 --status /tmp/sims.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import signal
import time
from pathlib import Path
from typing import Any

import gi

from devkit.gb28181_device import DeviceSim, make_channels
from devkit.synthetic import CameraSpec
from devkit.synthetic_clip import encode_clip, read_access_units
from gb28181.transport import Peer

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

PLATFORM, DOMAIN = "34020000002000000001", "3402000000"


def device_id(serial: int) -> str:
    """IPC (type 132) number ``serial`` under the bench's centre code."""
    return f"{DOMAIN}132{serial:07d}"


def password(device: str) -> str:
    return f"bench-{device[-7:]}-pw"


def clip_spec(name: str) -> CameraSpec:
    """The 720p25, 1 s GOP, 2 Mb/s clip bench.relay's synthetic cameras serve."""
    return CameraSpec(name=name, width=1280, height=720, fps=25, gop=25, bitrate_kbps=2000)


class Fleet:
    def __init__(self, a: argparse.Namespace) -> None:
        host, _, port = a.server.rpartition(":")
        self.server = Peer("UDP", host, int(port))
        self.a = a
        self.sims: list[DeviceSim] = []
        self.stats: dict[str, Any] = {
            "devices": a.count, "registered": 0, "register_failed": [], "registration_s": None,
            "keepalives_ok": 0, "keepalives_failed": 0, "re_registers": 0, "sent_frames": 0}

    async def start(self) -> None:
        clips = self.a.clips.split(",") if self.a.clips else []
        units = [read_access_units(encode_clip(clip_spec(c)), "h264") for c in clips]
        for i in range(self.a.count):
            dev = device_id(self.a.first + i)
            sim = DeviceSim(dev, password(dev), self.server, PLATFORM, DOMAIN,
                            channels=make_channels(dev, 1), keepalive_s=self.a.keepalive,
                            units=units[i % len(units)] if units else [], fps=25)
            await sim.start()
            self.sims.append(sim)

    async def register_all(self) -> None:
        gate = asyncio.Semaphore(self.a.concurrency)
        t0 = time.monotonic()

        async def one(sim: DeviceSim) -> None:
            async with gate:
                for _ in range(3):  # a lost UDP exchange is retried, as devices do
                    if await sim.register() == 200:
                        self.stats["registered"] += 1
                        return
                self.stats["register_failed"].append(sim.device_id)

        await asyncio.gather(*(one(s) for s in self.sims))
        self.stats["registration_s"] = round(time.monotonic() - t0, 3)

    async def keep_alive(self, sim: DeviceSim) -> None:
        await asyncio.sleep(random.uniform(0, self.a.keepalive))
        while True:
            status = await sim.keepalive()
            if status == 200:
                self.stats["keepalives_ok"] += 1
            else:
                self.stats["keepalives_failed"] += 1
                if status == 403:  # the platform forgot us: register again
                    self.stats["re_registers"] += 1
                    await sim.register()
            await asyncio.sleep(self.a.keepalive)

    def write_status(self) -> None:
        self.stats["sent_frames"] = sum(s.sent_frames for s in self.sims)
        tmp = self.a.status.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.stats))
        tmp.replace(self.a.status)


async def main(a: argparse.Namespace) -> None:
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    fleet = Fleet(a)
    await fleet.start()
    await fleet.register_all()
    tasks = [asyncio.ensure_future(fleet.keep_alive(s)) for s in fleet.sims]
    while not stop.is_set():
        fleet.write_status()
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except TimeoutError:
            pass
    for t in tasks:
        t.cancel()
    for s in fleet.sims:
        await s.close()


def cli() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server", required=True, help="the SIP service, host:port (UDP)")
    p.add_argument("--first", type=int, default=0, help="serial of the first device")
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--keepalive", type=float, default=60.0, help="seconds")
    p.add_argument("--concurrency", type=int, default=16, help="REGISTERs in flight")
    p.add_argument("--clips", default="", help="comma-separated synthetic camera names")
    p.add_argument("--status", type=Path, required=True)
    a = p.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # one UDP socket per device
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, a.count + 256)), hard))
    Gst.init(None)
    asyncio.run(main(a))


if __name__ == "__main__":
    cli()
