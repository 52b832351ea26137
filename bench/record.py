"""Benchmark of recording: ``python -m bench.record`` prints one JSON object.

Measured in one run: 32 loop-mode synthetic cameras (720p25, 2 Mb/s, 1 s GOP) recorded
continuously by the cityhub relay (no viewers: recording alone pulls them) and, alongside,
by a bare GStreamer recorder of the same streams (bench/record_baseline.py:
``rtspsrc ! depay ! parse ! timestamper ! splitmuxsink``), both cutting ``SEGMENT_S``
segments (the same files opened and closed). Once every camera records, the relay
records ``--settle`` seconds (one segment: its start-up, the first cuts and the rings'
sizing are behind it, as the bare recorder's are) before both are measured over the same
windows; the median window ratio is reported as ``record_cpu_ratio`` (target <= 1.2). The
relay's figure keeps its product work the bare recorder has not (``RELAY_EXTRA``).
Also: bytes written per second by the relay, frames dropped by its recording queues
(target 0), and the time from a playback ``play`` request (a seek to a random recorded
instant) to the first media segment on the WebSocket, p50/p95 (target p95 <= 0.5 s).
Housekeeping at 30 days of segments is its own benchmark (bench/record_housekeeping.py).

Invalid (exit 1, no figures kept): a camera that does not deliver 20 fps before the run, one
not recording within ``--timeout``, a recorder that wrote less than the cameras send, a seek
that got no frame.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import websockets
import yaml

from bench.relay import SECRET, InvalidRun, cpu_of, require_fps, start_cameras, wait_log
from bench.report import finish
from core.net import free_port
from devkit.embedded.process import spawn, stop
from streams.auth.service import derive_service_token
from streams.auth.tokens import issue_play_token
from streams.config import StreamsConfig

#: Reads the relay's health (streams.auth.service).
SERVICE = {"Authorization": f"Bearer {derive_service_token(SECRET)}"}
#: Segment length of the relay and of the bare recorder alike: like work on both sides.
SEGMENT_S = 10
#: What the relay does that the bare recorder does not, counted in its CPU (said in the JSON).
RELAY_EXTRA = (
    "per closed segment: sha256 of the file, an fsync'd journal line chained to the one "
    "before; per camera: a tee with the RTSP re-serve's proxysink and the ring appsink, "
    "health and housekeeping polls"
)


def start_relay(
    tmp: Path, cameras: dict[str, str], segment_s: float, core: str
) -> tuple[subprocess.Popen[bytes], int]:
    http = free_port()
    cfg = {
        "state_dir": str(tmp / "state"),
        "cameras": [
            {"id": c, "name": c, "site": "s", "department": "d", "system": "safecity", "url": u}
            for c, u in cameras.items()
        ],
        "streams": {
            "http_port": http,
            "rtsp_port": free_port(),
            "play_secret": SECRET,
            "core": core,
            "recording": {
                "paths": [str(tmp / "rec")],
                "segment_s": segment_s,
                "min_free_gb": 0.2,
                "cameras": {c: {"mode": "continuous"} for c in cameras},
            },
        },
    }
    (tmp / "relay.yaml").write_text(yaml.safe_dump(cfg))
    proc = spawn(
        [sys.executable, "-m", "hub", "relay", "--config", str(tmp / "relay.yaml")],
        tmp / "relay.log",
    )
    wait_log(proc, tmp / "relay.log", "relay: ready")
    return proc, http


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*.mp4") if p.is_file())


async def seek_times(
    http: int, camera: str, ranges: list[tuple[float, float]], n: int, failed: list[float]
) -> list[float]:
    token = issue_play_token(SECRET, camera, "bench", ttl_s=600, protocols=["playback"])
    url = f"ws://127.0.0.1:{http}/playback/{camera}?token={token}"
    out: list[float] = []
    async with websockets.connect(url, max_size=32 * 1024 * 1024) as ws:
        for _ in range(n):
            start, end = random.choice(ranges)
            at = random.uniform(start, max(start, end - 1))
            t0 = time.perf_counter()
            await ws.send(json.dumps({"type": "play", "at": at, "speed": 1}))
            init_seen = False
            while True:
                msg = await asyncio.wait_for(ws.recv(), 10)
                if isinstance(msg, str):
                    kind = json.loads(msg).get("type")
                    init_seen = init_seen or kind == "init"
                    if kind in ("end", "error") and not init_seen:
                        failed.append(at)
                        break
                elif init_seen and msg[4:8] == b"moof":
                    out.append(time.perf_counter() - t0)
                    break
    return out


def recording_state(http: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The relay's camera health and recording state."""
    health = httpx.get(f"http://127.0.0.1:{http}/health", headers=SERVICE,
                       timeout=10).json()["cameras"]
    state = httpx.get(f"http://127.0.0.1:{http}/recordings", headers=SERVICE, timeout=10).json()
    return health, state["cameras"]


def wait_recording(http: int, names: list[str], timeout: float) -> None:
    """Every camera recording before anything is measured, else the run is invalid."""
    deadline = time.monotonic() + timeout
    while True:
        health, cams = recording_state(http)
        idle = {h["camera_id"]: (h["state"], h.get("error")) for h in health
                if not cams.get(h["camera_id"], {}).get("recording")}
        if not idle:
            return
        if time.monotonic() > deadline:
            raise InvalidRun(f"timeout: {len(idle)} of {len(names)} cameras not recording "
                             f"after {timeout:g} s: {idle}")
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--streams", type=int, default=32)
    p.add_argument("--window", type=float, default=20.0, help="seconds per CPU measurement")
    p.add_argument("--seeks", type=int, default=20)
    p.add_argument("--settle", type=float, default=SEGMENT_S,
                   help="seconds of recording before measuring (steady state, as day-long "
                   "recording is; the bare recorder has been running since before the relay)")
    p.add_argument("--core", choices=["packet", "gstreamer"],
                   default=StreamsConfig.model_fields["core"].default,
                   help="the relay's media core (default: the relay's own default)")
    p.add_argument("--upstream", help="rtsp://host:port of cameras c00.. already served "
                   "(default: start synthetic 720p25 cameras)")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="seconds every camera has to be recording before measuring")
    a = p.parse_args(argv)
    try:
        return finish("record", *measure(a))
    except InvalidRun as exc:
        return finish("record", {"streams": a.streams}, [str(exc)])


def measure(a: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    names = [f"c{i:02d}" for i in range(a.streams)]
    procs: list = []
    problems: list[str] = []
    failed: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-record-") as d:
        tmp = Path(d)
        try:
            upstream = a.upstream or start_cameras(tmp, names, procs)
            # Every camera must deliver at its rate before anything is started or measured.
            require_fps("cameras", {n: f"{upstream}/{n}" for n in names}, 20)
            (tmp / "base").mkdir()
            base = spawn(
                [
                    sys.executable,
                    "-m",
                    "bench.record_baseline",
                    "--upstream",
                    upstream,
                    "--cameras",
                    ",".join(names),
                    "--out",
                    str(tmp / "base"),
                    "--segment-s",
                    str(SEGMENT_S),
                ],
                tmp / "base.log",
            )
            procs.append(base)
            wait_log(base, tmp / "base.log", "ready")
            relay, http = start_relay(tmp, {n: f"{upstream}/{n}" for n in names}, SEGMENT_S,
                                      a.core)
            procs.append(relay)
            wait_recording(http, names, a.timeout)
            time.sleep(a.settle)  # past start-up: the first segments cut, rings sized
            b0, r0, t0 = dir_bytes(tmp / "rec"), dir_bytes(tmp / "base"), time.monotonic()
            windows = [cpu_of([base.pid, relay.pid], a.window) for _ in range(3)]
            span = time.monotonic() - t0
            written = (dir_bytes(tmp / "rec") - b0) / span / 1e6
            base_written = (dir_bytes(tmp / "base") - r0) / span / 1e6
            health, cams = recording_state(http)
            camera_mb_s = sum(h["bitrate_bps"] for h in health) / 8e6  # what the cameras send
            recording = sum(1 for c in cams.values() if c["recording"])
            idle = {c: (h["state"], h.get("error")) for h in health
                    if (c := h["camera_id"]) in cams and not cams[c]["recording"]}
            dropped = sum(int(c.get("dropped", 0)) for c in cams.values())
            stop(base)
            procs.remove(base)
            segs = httpx.get(
                f"http://127.0.0.1:{http}/recordings/{names[0]}/segments",
                params={"token": issue_play_token(SECRET, names[0], "b", protocols=["playback"])},
                timeout=10,
            ).json()["segments"]
            ranges = [(s["start"], s["end"]) for s in segs]
            seeks = (
                asyncio.run(seek_times(http, names[0], ranges, a.seeks, failed)) if ranges else []
            )
        finally:
            for proc in reversed(procs):
                stop(proc)
    if recording != a.streams:
        problems.append(f"only {recording} of {a.streams} cameras recording (not: {idle})")
    if not seeks:
        problems.append("no closed segment to seek in")
    if failed:
        problems.append(f"{len(failed)} seeks got no frame")
    base_cores = statistics.median(w[0] for w in windows)
    relay_cores = statistics.median(w[1] for w in windows)
    ratio = statistics.median(w[1] / w[0] for w in windows if w[0] > 0)
    for who, rate in (("relay", written), ("baseline", base_written)):
        if rate < 0.8 * camera_mb_s:  # a recorder that lost data makes the CPU figures void
            problems.append(f"{who} wrote {rate:.2f} MB/s of the {camera_mb_s:.2f} cameras send")
    q = statistics.quantiles(seeks, n=20) if len(seeks) >= 2 else [0.0] * 19
    result = {
        "streams": a.streams,
        "resolution": f"1280x720@25, 2 Mb/s, 1 s GOP (loop-mode synthetic), {SEGMENT_S} s "
        "segments",
        "core": a.core,
        "segment_s": {"relay": SEGMENT_S, "baseline": SEGMENT_S},
        "measured_s": {"settle": a.settle, "windows": [a.window] * 3},
        "relay_extra_work": RELAY_EXTRA,
        "record_cpu_per_stream": round(relay_cores / a.streams, 4),
        "baseline_cpu_per_stream": round(base_cores / a.streams, 4),
        "record_cpu_ratio": round(ratio, 3),
        "record_cpu_ratio_windows": [round(w[1] / w[0], 3) for w in windows if w[0] > 0],
        "camera_mb_per_s": round(camera_mb_s, 2),
        "write_mb_per_s": round(written, 2),
        "baseline_write_mb_per_s": round(base_written, 2),
        "dropped_frames": dropped,
        "playback_seek_first_frame_s": {
            "p50": round(statistics.median(seeks), 3) if seeks else None,
            "p95": round(q[18], 3) if seeks else None,
            "n": len(seeks),
        },
        "cpu_unit": "cores (1.0 = one core), relay process only; the machine's 2 cores are "
        "shared with other work",
    }
    return result, problems


if __name__ == "__main__":
    sys.exit(main())
