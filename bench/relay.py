"""Benchmark of the stream relay: ``python -m bench.relay`` prints one JSON object.

Measured in one run on this machine:
- CPU of the relay process only (psutil), 16 loop-mode 720p25 cameras (1 s GOP), one
  RTSP reader each (readers in a separate process), against a bare GStreamer
  passthrough relay of the same cameras (bench/relay_baseline.py) running alongside:
  both processes are measured over the same three windows and the median ratio is
  reported (measured one after the other, the machine's drift alone moved it by 20 %);
- time to first decoded frame for a new RTSP viewer on a warm camera (GOP cache) and
  on an idle on-demand camera (cold: connect + first keyframe);
- extra relay CPU per WebRTC (WHEP, H.264 passthrough) viewer for 1, 10 and 50 viewers
  (``--viewers``) of one of the 720p cameras, on each core (with the packet core WebRTC
  comes from the GStreamer re-serve pulling the camera over loopback). The aiortc viewers
  run in this process and count frames without decoding (bench.viewers), so that the bench
  needs fewer cores than the relay; their CPU is not counted. Every viewer must get
  ``--webrtc-min-fps`` (20) while measured, or the run is refused.

Where the relay's CPU goes (per-thread, 16x720p): the camera-side streaming threads and the
RTSP serving threads cost what the baseline's do (proxysrc's queue hop is nearly free);
the difference was Python. Hence the RTSP path runs in C (tee -> proxysink -> proxysrc),
frames wait in a C ring that Python drains only when a GOP cache or pre-event buffer is
read, and health comes from counters kept in C: Python's share went from 0.024 to 0.008
cores and cpu_ratio from 1.16-1.45 to about 1.1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gi
import psutil
import yaml

from bench.report import finish
from bench.viewers import count_without_decoding, roomy_receive_buffers
from core.net import free_port
from devkit.embedded.process import spawn, stop, tail
from streams.auth.tokens import issue_play_token
from streams.webrtc.client import WhepClient
from streams.webrtc.ice import configure_ice_hosts

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402 - after require_version

SECRET = "bench-secret-0123456789abcdef012345"
#: A WebRTC viewer of the 25 fps camera must get this rate while measured, or the run is
#: refused (``--webrtc-min-fps``).
WEBRTC_MIN_FPS = 20.0


class InvalidRun(Exception):
    """The run cannot be measured (a dead camera, a starved stream): no figures."""


def wait_log(proc: subprocess.Popen[bytes], log: Path, text: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while text not in (log.read_text() if log.exists() else ""):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise InvalidRun(f"{log.name}: no {text!r}:\n{tail(log)}")
        time.sleep(0.05)


def cpu_of(pids: list[int], seconds: float) -> list[float]:
    """Cores used by each process (with its threads) over the same ``seconds``."""
    procs = [psutil.Process(pid) for pid in pids]
    t0, c0 = time.monotonic(), [sum(p.cpu_times()[:2]) for p in procs]
    time.sleep(seconds)
    span = time.monotonic() - t0
    return [(sum(p.cpu_times()[:2]) - c) / span for p, c in zip(procs, c0, strict=True)]


def readers(urls: list[str], log: Path) -> subprocess.Popen[bytes]:
    """One process holding an RTSP reader (no decoding) on each URL."""
    argv = ["gst-launch-1.0", "-q"]
    for url in urls:
        argv += [
            "rtspsrc",
            f"location={url}",
            "latency=0",
            "protocols=tcp",
            "!",
            "fakesink",
            "sync=false",
        ]
    return spawn(argv, log)


def delivered_fps(urls: list[str], seconds: float = 3.0) -> dict[str, float]:
    """Rate of access units an extra reader receives on each URL (no decoding): proof that
    the relay under measurement really serves, since a relay that serves nothing is cheap."""
    Gst.init(None)
    counts = dict.fromkeys(urls, 0)
    pipes = []
    for url in urls:
        pipe = Gst.parse_launch(
            f'rtspsrc location="{url}" latency=0 protocols=tcp ! rtph264depay ! h264parse '
            "! video/x-h264,alignment=au ! fakesink name=out sync=false signal-handoffs=true"
        )

        def count(*_: object, url: str = url) -> None:
            counts[url] += 1

        pipe.get_by_name("out").connect("handoff", count)
        pipe.set_state(Gst.State.PLAYING)
        pipes.append(pipe)
    time.sleep(1.5)  # connect and reach the next keyframe
    start = dict(counts)
    time.sleep(seconds)
    for pipe in pipes:
        pipe.set_state(Gst.State.NULL)
    return {u: (counts[u] - start[u]) / seconds for u in urls}


def require_fps(what: str, urls: dict[str, str], least: float) -> float:
    """The lowest frame rate over ``urls`` (name -> URL); every one must reach ``least``."""
    fps = delivered_fps(list(urls.values()))
    slow = {n: round(fps[u], 1) for n, u in urls.items() if fps[u] < least}
    if slow:
        raise InvalidRun(f"{what}: {len(slow)} of {len(urls)} below {least} fps: {slow}")
    return min(fps.values())


def first_frame_s(url: str) -> float:
    """Seconds from starting an RTSP reader to its first decoded frame."""
    Gst.init(None)
    t0 = time.monotonic()
    pipe = Gst.parse_launch(
        f'rtspsrc location="{url}" latency=0 protocols=tcp ! decodebin '
        "! fakesink name=out sync=false signal-handoffs=true"
    )
    got: list[float] = []

    def first(*_: object) -> None:
        if not got:
            got.append(time.monotonic())

    pipe.get_by_name("out").connect("handoff", first)
    pipe.set_state(Gst.State.PLAYING)
    deadline = t0 + 15
    while not got and time.monotonic() < deadline:
        time.sleep(0.005)
    pipe.set_state(Gst.State.NULL)
    if not got:
        raise InvalidRun(f"no frame from {url.split('?')[0]}")
    return got[0] - t0


def start_relay(
    tmp: Path, cameras: dict[str, str], always_on: set[str], core: str = "gstreamer"
) -> tuple[subprocess.Popen[bytes], int, int]:
    """A ``cityhub relay`` process with ``core`` in ``tmp`` (a folder of its own)."""
    tmp.mkdir(parents=True, exist_ok=True)
    http, rtsp = free_port(), free_port()
    cams = [
        {
            "id": c,
            "name": c,
            "site": "s",
            "department": "d",
            "system": "safecity",
            "url": u,
            "always_on": c in always_on,
        }
        for c, u in cameras.items()
    ]
    cfg = {
        "state_dir": str(tmp / "state"),
        "cameras": cams,
        "streams": {
            "http_port": http,
            "rtsp_port": rtsp,
            "ice_hosts": ["127.0.0.1"],
            "play_secret": SECRET,
            "idle_close_s": 30,
            "webrtc_max_viewers": 64,
            "core": core,
        },
    }
    (tmp / "relay.yaml").write_text(yaml.safe_dump(cfg))
    proc = spawn(
        [sys.executable, "-m", "hub", "relay", "--config", str(tmp / "relay.yaml")],
        tmp / "relay.log",
    )
    wait_log(proc, tmp / "relay.log", "relay: ready")
    return proc, http, rtsp


def token(camera: str) -> str:
    return issue_play_token(SECRET, camera, "bench", ttl_s=3600, protocols=["rtsp", "webrtc"])


async def webrtc_cpu(
    pid: int, http: int, camera: str, counts: list[int], window: float, min_fps: float
) -> dict[str, dict[str, float]]:
    """Extra relay CPU per WHEP viewer of ``camera`` at each viewer count, and the lowest
    frame rate a viewer got while measured (every viewer must receive video)."""
    count_without_decoding()  # 50 decoding viewers would need more cores than the relay
    roomy_receive_buffers()
    configure_ice_hosts(["127.0.0.1"])
    loop = asyncio.get_running_loop()
    idle = (await loop.run_in_executor(None, cpu_of, [pid], window))[0]
    cpu: dict[str, float] = {}
    fps: dict[str, float] = {}
    viewers_cpu: dict[str, float] = {}
    for n in counts:
        clients = [
            WhepClient(f"http://127.0.0.1:{http}/whep/{camera}", token(camera)) for _ in range(n)
        ]
        try:
            for i in range(0, n, 10):  # as a wall of tiles opens, not all in one instant
                await asyncio.gather(*(c.start() for c in clients[i : i + 10]))
            await asyncio.gather(*(c.wait_frames(10, 30) for c in clients))
            before = [c.frames for c in clients]
            t0 = time.monotonic()
            busy, own = await loop.run_in_executor(None, cpu_of, [pid, os.getpid()], window)
            rates = [(c.frames - b) / (time.monotonic() - t0) for c, b in zip(clients, before,
                                                                              strict=True)]
        finally:
            await asyncio.gather(*(c.stop() for c in clients), return_exceptions=True)
        starved = [round(r, 1) for r in rates if r < min_fps]
        if starved:
            raise InvalidRun(f"{len(starved)} of {n} WebRTC viewers below {min_fps:g} fps "
                             f"while measured: {starved} (frames in all: "
                             f"{[c.frames for c in clients]}; the relay used {busy:.2f} cores, the "
                             f"viewers' process {own:.2f})")
        cpu[str(n)] = round(max(busy - idle, 0.0) / n, 4)
        fps[str(n)] = round(min(rates), 1)
        viewers_cpu[str(n)] = round(own, 2)
    return {"cpu_per_viewer": cpu, "viewer_fps_min": fps, "viewers_process_cores": viewers_cpu}


def webrtc_on(
    pid: int, http: int, rtsp: int, camera: str, a: argparse.Namespace, log: Path
) -> dict[str, dict[str, float]]:
    """WebRTC per viewer on one relay; the camera is held live by one RTSP reader, so only
    viewers change (with the packet core the first viewer also starts the GStreamer re-serve's
    loopback pull)."""
    rd = readers([relay_urls(rtsp, [camera])[camera]], log)
    try:
        time.sleep(3)
        return asyncio.run(webrtc_cpu(pid, http, camera, a.viewers, a.window / 2,
                                      a.webrtc_min_fps))
    finally:
        stop(rd)


def start_cameras(
    tmp: Path,
    names: list[str],
    procs: list[subprocess.Popen[bytes]],
    size: tuple[int, int, int] = (1280, 720, 2000),
    log: str = "cams",
    codec: str = "h264",
) -> str:
    """Synthetic 25 fps cameras (loop mode, 1 s GOP) named ``names``, of ``size`` (width,
    height, kbit/s; default 720p at 2 Mbit/s); their rtsp:// base."""
    cam_port = free_port()
    width, height, kbps = size
    cams = spawn(
        [
            sys.executable, "-m", "devkit.synthetic", "--port", str(cam_port),
            "--cameras", ",".join(names), "--width", str(width), "--height", str(height),
            "--fps", "25", "--gop", "25", "--bitrate", str(kbps), "--mode", "loop",
            "--codec", codec,
        ],
        tmp / f"{log}.log",
    )
    procs.append(cams)
    wait_log(cams, tmp / f"{log}.log", "ready", 300)
    return f"rtsp://127.0.0.1:{cam_port}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--streams", type=int, default=16)
    p.add_argument("--window", type=float, default=8.0, help="seconds per CPU measurement")
    p.add_argument(
        "--upstream",
        help="rtsp://host:port of cameras c00.. (and 'cold') already served (default: start "
        "synthetic 720p25 cameras)",
    )
    p.add_argument("--scale", type=int, nargs="*", default=[64],
                   help="stream counts the packet core alone is measured at (RSS, CPU)")
    p.add_argument("--viewers", type=int, nargs="*", default=[1, 10, 50],
                   help="WebRTC viewer counts, of one 720p camera, on each core")
    p.add_argument("--webrtc-min-fps", type=float, default=WEBRTC_MIN_FPS,
                   help="frame rate every WebRTC viewer must get while measured")
    a = p.parse_args(argv)
    try:
        return finish("relay", measure(a))
    except InvalidRun as exc:
        return finish("relay", {"streams": a.streams}, [str(exc)])


def rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


def relay_urls(rtsp: int, names: list[str]) -> dict[str, str]:
    return {n: f"rtsp://127.0.0.1:{rtsp}/{n}?token={token(n)}" for n in names}


def packet_at_scale(
    tmp: Path, upstream: str, names: list[str], n: int, window: float
) -> dict[str, object]:
    """The packet core alone with ``n`` streams (camera ids beyond the cameras served share
    their URLs; each is still its own upstream connection), one reader each."""
    ids = [f"s{i:03d}" for i in range(n)]
    cameras = {c: f"{upstream}/{names[i % len(names)]}" for i, c in enumerate(ids)}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        relay, _http, rtsp = start_relay(tmp / f"pkt{n}", cameras, set(), core="packet")
        procs.append(relay)
        idle = rss_mb(relay.pid)
        procs.append(readers(list(relay_urls(rtsp, ids).values()), tmp / f"rd{n}.log"))
        fps = require_fps(f"packet core at {n} streams", relay_urls(rtsp, ids), 20)
        cores = statistics.median(cpu_of([relay.pid], window)[0] for _ in range(3))
        busy = rss_mb(relay.pid)
    finally:
        for proc in reversed(procs):
            stop(proc)
    return {"streams": n, "cpu_per_stream": round(cores / n, 4), "rss_mb": round(busy, 1),
            "rss_per_stream_mb": round((busy - idle) / n, 3), "reader_fps_min": round(fps, 1)}


def measure(a: argparse.Namespace) -> dict[str, object]:
    names = [f"c{i:02d}" for i in range(a.streams)]
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="bench-relay-") as d:
        tmp = Path(d)
        try:
            upstream = a.upstream or start_cameras(tmp, [*names, "cold", "cold2"], procs)
            # Every camera must deliver before anything is measured (a dead one is cheap).
            require_fps("cameras", {n: f"{upstream}/{n}" for n in [*names, "cold"]}, 20)
            require_fps("cold camera of the packet core", {"cold2": f"{upstream}/cold2"}, 20)

            # Baseline: bare GStreamer passthrough relay, one reader per stream.
            base_port = free_port()
            base = spawn(
                [sys.executable, "-m", "bench.relay_baseline", "--port", str(base_port),
                 "--upstream", upstream, "--cameras", ",".join(names)],
                tmp / "base.log",
            )
            procs.append(base)
            wait_log(base, tmp / "base.log", "ready")
            rd0 = readers([f"rtsp://127.0.0.1:{base_port}/{n}" for n in names], tmp / "rd0.log")

            # cityhub, both cores: same cameras, same readers, running alongside the baseline.
            cameras = {n: f"{upstream}/{n}" for n in [*names, "cold", "cold2"]}
            relay, http, rtsp = start_relay(tmp / "gst", cameras, always_on=set())
            procs.append(relay)
            packet, phttp, prtsp = start_relay(tmp / "pkt", cameras, set(), core="packet")
            procs.append(packet)
            idle_rss = {"gstreamer": rss_mb(relay.pid), "packet": rss_mb(packet.pid)}
            rd = readers(list(relay_urls(rtsp, names).values()), tmp / "rd1.log")
            rdp = readers(list(relay_urls(prtsp, names).values()), tmp / "rd3.log")
            # Every stream of every relay delivers the camera's rate before CPU is measured.
            base_fps = require_fps(
                "baseline relay", {n: f"rtsp://127.0.0.1:{base_port}/{n}" for n in names}, 20
            )
            relay_fps = require_fps("cityhub relay", relay_urls(rtsp, names), 20)
            packet_fps = require_fps("cityhub relay, packet core", relay_urls(prtsp, names), 20)
            # All three measured over the same windows (the machine's load drifts between
            # windows, not within one); the median window ratio is reported.
            windows = [cpu_of([base.pid, relay.pid, packet.pid], a.window) for _ in range(3)]
            busy_rss = {"gstreamer": rss_mb(relay.pid), "packet": rss_mb(packet.pid),
                        "baseline": rss_mb(base.pid)}
            stop(rd0)
            stop(base)
            warm, pwarm = [], []
            for n in names[:10]:  # interleaved: the machine's drift hits both cores alike
                warm.append(first_frame_s(relay_urls(rtsp, [n])[n]))
                pwarm.append(first_frame_s(relay_urls(prtsp, [n])[n]))
            cold = first_frame_s(relay_urls(rtsp, ["cold"])["cold"])
            pcold = first_frame_s(relay_urls(prtsp, ["cold2"])["cold2"])
            stop(rd)
            stop(rdp)
            direct = [first_frame_s(f"{upstream}/{n}") for n in names[:3]]
            webrtc = {
                "gstreamer": webrtc_on(relay.pid, http, rtsp, names[0], a, tmp / "rd2.log"),
                "packet": webrtc_on(packet.pid, phttp, prtsp, names[0], a, tmp / "rd4.log"),
            }
            stop(relay)
            stop(packet)
            scale = [packet_at_scale(tmp, upstream, names, k, a.window / 2) for k in a.scale]
        finally:
            for proc in reversed(procs):
                stop(proc)
    n = a.streams
    base_ps = statistics.median(w[0] for w in windows) / n
    relay_ps = statistics.median(w[1] for w in windows) / n
    packet_ps = statistics.median(w[2] for w in windows) / n

    def ratios(k: int) -> list[float]:
        return [round(w[k] / w[0], 3) for w in windows if w[0] > 0]

    return {
        "streams": n,
        "resolution": "1280x720@25, 2 Mb/s, 1 s GOP (loop-mode synthetic)",
        "cpu_per_stream": round(relay_ps, 4),
        "baseline_cpu_per_stream": round(base_ps, 4),
        "cpu_ratio": round(statistics.median(ratios(1)), 3),
        "cpu_ratio_windows": ratios(1),
        "reader_fps_min": {"relay": round(relay_fps, 1), "baseline": round(base_fps, 1),
                           "packet": round(packet_fps, 1)},
        "ttff_warm_s": round(statistics.median(warm), 3),
        "ttff_cold_s": round(cold, 3),
        "ttff_direct_camera_s": round(statistics.median(direct), 3),
        "packet_core": {
            "cpu_per_stream": round(packet_ps, 4),
            "cpu_ratio": round(statistics.median(ratios(2)), 3),
            "cpu_ratio_windows": ratios(2),
            "ttff_warm_s": round(statistics.median(pwarm), 4),
            "ttff_warm_s_all": [round(x, 4) for x in pwarm],
            "ttff_cold_s": round(pcold, 3),
            "at_scale": scale,
            "webrtc_cpu_per_viewer": webrtc["packet"]["cpu_per_viewer"],
            "webrtc_viewer_fps_min": webrtc["packet"]["viewer_fps_min"],
        },
        "rss_mb": {k: round(v, 1) for k, v in busy_rss.items()},
        "rss_idle_mb": {k: round(v, 1) for k, v in idle_rss.items()},
        "rss_per_stream_mb": {  # what the streams added to the relay's idle footprint
            k: round((busy_rss[k] - idle_rss[k]) / n, 2) for k in idle_rss
        },
        "webrtc_cpu_per_viewer": webrtc["gstreamer"]["cpu_per_viewer"],
        "webrtc_viewer_fps_min": webrtc["gstreamer"]["viewer_fps_min"],
        "webrtc_camera": "1280x720@25, 2 Mb/s, one of the cameras above (aiortc viewers in the "
                         "bench process count frames without decoding)",
        "cpu_unit": "cores (1.0 = one core), relay process only",
        "machine_cores": psutil.cpu_count(),
    }


if __name__ == "__main__":
    sys.exit(main())
