"""What the ``h264`` profile costs: ``python -m bench.transcode`` prints one JSON object.

Synthetic H.265 cameras (720p25, 2 Mbit/s, 1 s GOP, loop mode) behind one ``cityhub
relay``; in the same run, one RTSP reader per camera (no decoding, in a separate process):
- baseline: the cameras' main profile, H.265 passed through;
- then their ``h264`` profile (avdec_h265 -> x264enc ultrafast/zerolatency in the relay).
Reported: relay CPU per transcoded stream over the passthrough (median of three windows
each), the frame rate the transcode delivers to its readers (below 90 % of the camera's:
the encoder cannot keep up, an invalid run), the latency decoding and encoding add (the relay's
own measure, camera frame in -> H.264 frame out, health ``transcode.latency_ms``) and time to
first decoded frame of a new reader: main (warm), h264 with the transcode idle (it starts on
the main's cached GOP) and h264 with it running.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.relay import (
    SECRET,
    InvalidRun,
    cpu_of,
    first_frame_s,
    readers,
    start_cameras,
    start_relay,
)
from bench.relay import token as play_token
from bench.report import finish
from devkit.embedded.process import stop
from streams.auth.service import derive_service_token

FPS = 25


def served_fps(http: int, streams: list[str]) -> float:
    """The lowest frame rate among ``streams`` (the relay's health: frames out of the camera
    or the encoder), each of which must have an RTSP reader: proof that the relay under
    measurement really works (a relay that serves nothing is cheap)."""
    deadline = time.monotonic() + 20
    while True:
        hs = [health(http, s) for s in streams]
        ok = all(h["rtsp_viewers"] >= 1 and h["fps"] >= 0.9 * FPS for h in hs)
        if ok or time.monotonic() > deadline:
            if not all(h["rtsp_viewers"] >= 1 for h in hs):
                raise InvalidRun(f"a stream has no reader: {[h['camera_id'] for h in hs]}")
            return min(float(h["fps"]) for h in hs)
        time.sleep(0.5)


def relay_cpu(pid: int, window: float) -> float:
    """Cores the relay uses: the median of three windows."""
    return statistics.median(cpu_of([pid], window)[0] for _ in range(3))


def health(http: int, camera: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {derive_service_token(SECRET)}"}
    r = httpx.get(f"http://127.0.0.1:{http}/health/{camera}", headers=headers, timeout=10)
    if r.status_code != 200:
        raise InvalidRun(f"health of {camera}: {r.status_code}")
    return r.json()


def measured(tmp: Path, n: int, window: float, procs: list[subprocess.Popen[bytes]],
             upstream: str | None = None) -> dict[str, object]:
    names = [f"h{i:02d}" for i in range(n)]
    base = upstream or start_cameras(tmp, names, procs, codec="h265")
    relay, http, rtsp = start_relay(tmp / "relay", {c: f"{base}/{c}" for c in names},
                                    set(names))
    procs.append(relay)
    url = {c: f"rtsp://127.0.0.1:{rtsp}/{c}?token={play_token(c)}" for c in names}
    h264 = {c: f"rtsp://127.0.0.1:{rtsp}/{c}/h264?token={play_token(c)}" for c in names}
    first = {"main_warm_s": round(first_frame_s(url[names[0]]), 3)}
    passthrough = readers(list(url.values()), tmp / "readers-main.log")
    procs.append(passthrough)
    if served_fps(http, names) < 0.9 * FPS:
        raise InvalidRun("the H.265 passthrough does not keep the camera's frame rate")
    base_cpu = relay_cpu(relay.pid, window)
    stop(passthrough)
    first["h264_idle_s"] = round(first_frame_s(h264[names[0]]), 3)  # after: no transcode
    transcoded = readers(list(h264.values()), tmp / "readers-h264.log")
    procs.append(transcoded)
    fps = served_fps(http, [f"{c}~h264" for c in names])
    if fps < 0.9 * FPS:
        raise InvalidRun(f"the transcode delivers {fps:.1f} fps of {FPS}: the encoder lags")
    cpu = relay_cpu(relay.pid, window)
    # Another camera: its mount has had one reader (the re-serve's third reader in a row of one
    # mount may get no frame: a known limit of the GStreamer RTSP path, not the transcode).
    first["h264_warm_s"] = round(first_frame_s(h264[names[-1]]), 3)
    stats = [health(http, f"{c}~h264")["transcode"] for c in names]
    if not all(s["running"] and s["latency_ms"] is not None for s in stats):
        raise InvalidRun(f"a transcode is not running: {stats}")
    stop(transcoded)
    return {
        "streams": n,
        "source": "1280x720@25, H.265, 2 Mb/s, 1 s GOP (loop-mode synthetic)",
        "encoder": f"x264enc ultrafast zerolatency, {stats[0]['bitrate_kbps']} kb/s, "
                   f"decoder {stats[0]['decoder']}",
        "relay_cpu": {"h265_passthrough": round(base_cpu, 4), "h264_transcode": round(cpu, 4)},
        "cpu_per_transcode": round(max(cpu - base_cpu, 0.0) / n, 3),
        "transcode_fps": round(fps, 1),
        "latency_ms": statistics.median(s["latency_ms"] for s in stats),
        "first_frame": first,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--streams", type=int, default=2,
                   help="H.265 cameras, each transcoded (at least 2)")
    p.add_argument("--window", type=float, default=5.0, help="seconds per CPU measurement")
    p.add_argument("--upstream", help="rtsp://host:port of H.265 cameras h00.. already served "
                   "(default: start synthetic 720p25 ones)")
    a = p.parse_args(argv)
    if a.streams < 2:
        p.error("--streams: at least 2")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-transcode-") as tmp:
            try:
                return finish("transcode", measured(Path(tmp), a.streams, a.window, procs,
                                                      a.upstream))
            finally:
                for proc in reversed(procs):
                    stop(proc)
    except InvalidRun as exc:
        return finish("transcode", {"streams": a.streams}, [str(exc)])


if __name__ == "__main__":
    raise SystemExit(main())
