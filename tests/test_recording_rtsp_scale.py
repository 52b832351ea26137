"""RTSP playback at 2x-8x (#17): a PLAY ``Scale`` header (VLC, live555 clients) and the
URL's ``scale=`` (ffmpeg, which sends no Scale): keyframes only above 2x, timestamps
scaled by the server so that players follow. Real relay, synthetic camera (15 fps, one
keyframe a second), ffmpeg/ffprobe and a plain RTSP client on a socket."""

from __future__ import annotations

import socket
import statistics
import struct
import subprocess
import time
from pathlib import Path
from typing import Any

from devkit.fixtures.wait import wait_for
from tests.test_recording import recording, segments
from tests.test_recording_playback import _packets


class RtspClient:
    """Just enough RTSP (RFC 2326) over TCP to send a PLAY with ``Scale`` and read the
    interleaved RTP that follows."""

    def __init__(self, url: str) -> None:
        host, port = url.split("/")[2].split(":")
        self.url = url
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.cseq = 0
        self.buf = b""

    def request(self, method: str, url: str, **headers: str) -> tuple[int, dict[str, str]]:
        self.cseq += 1
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {self.cseq}"]
        lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(65536)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status, *rest = head.decode().split("\r\n")
        fields = {k.strip().lower(): v.strip() for k, v in (x.split(":", 1) for x in rest)}
        body = int(fields.get("content-length", "0"))
        while len(self.buf) < body:
            self.buf += self.sock.recv(65536)
        self.buf = self.buf[body:]
        return int(status.split()[1]), fields

    def play(self, scale: float) -> dict[str, str]:
        code, described = self.request("DESCRIBE", self.url, Accept="application/sdp")
        assert code == 200, code
        base = described.get("content-base", self.url + "/")
        control = base + "stream=0"
        code, setup = self.request("SETUP", control,
                                   Transport="RTP/AVP/TCP;unicast;interleaved=0-1")
        assert code == 200, (code, setup)
        session = setup["session"].split(";")[0]
        code, played = self.request("PLAY", base, Session=session, Range="npt=0-",
                                    Scale=f"{scale:.1f}")
        assert code == 200, (code, played)
        return played

    def rtp(self, seconds: float) -> list[tuple[float, int, int]]:
        """(arrival, RTP timestamp, NAL type) of each RTP packet on channel 0 for ``seconds``."""
        out = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            while len(self.buf) >= 4 and self.buf[0:1] == b"$":
                channel, size = self.buf[1], struct.unpack(">H", self.buf[2:4])[0]
                if len(self.buf) < 4 + size:
                    break
                packet, self.buf = self.buf[4:4 + size], self.buf[4 + size:]
                if channel == 0 and len(packet) > 13:
                    nal = packet[12] & 0x1F
                    if nal == 28:  # FU-A: the fragment's NAL type
                        nal = packet[13] & 0x1F
                    out.append((time.monotonic(), struct.unpack(">I", packet[4:8])[0], nal))
            self.buf += self.sock.recv(65536)
        return out

    def close(self) -> None:
        self.sock.close()


def _footage(camera_factory: Any, relay_factory: Any, tmp_path: Path) -> tuple[Any, list[dict]]:
    root = tmp_path / "rec"
    cam = camera_factory(["cam1"], mode="loop")
    relay = relay_factory({"cam1": cam.url("cam1")}, recording=recording(root, segment_s=2))
    # Footage, not a count of segments: a camera slowed down on a loaded machine reconnects
    # and cuts short segments, and 4x for 3 s must not run into the live end.
    wait_for(lambda: _recorded_s(segments(root, "cam1")) >= 20, timeout=120,
             what="20 s of footage")
    return relay, segments(root, "cam1")


def _gaps(times: list[float]) -> list[float]:
    """Time between successive pictures: ffmpeg may write parameter sets apart from their
    picture, and a camera that reconnected under load starts a GOP early, so times closer
    than 50 ms are one picture (the assertions then look at the median)."""
    pictures: list[float] = []
    for t in sorted(times):
        if not pictures or t - pictures[-1] > 0.05:
            pictures.append(t)
    return [b - a for a, b in zip(pictures, pictures[1:], strict=False)]


def _recorded_s(segs: list[dict]) -> float:
    return sum(float(s["end"]) - float(s["start"]) for s in segs)


def test_rtsp_playback_scale_header_and_url_scale_in_ffmpeg(
    camera_factory: Any, relay_factory: Any, tmp_path: Path
) -> None:
    relay, segs = _footage(camera_factory, relay_factory, tmp_path)
    token = relay.token("cam1", ("rtsp", "playback"))
    at = segs[0]["start"]
    url = f"rtsp://127.0.0.1:{relay.rtsp_port}/cam1/recorded?token={token}&start={at}"

    # A PLAY with Scale: 4 (VLC): granted, keyframes only, RTP time runs at wall speed
    # while four seconds of recording go by each second.
    client = RtspClient(url)
    try:
        played = client.play(4.0)
        assert float(played["scale"]) == 4.0, played
        packets = client.rtp(3.0)
    finally:
        client.close()
    slices = [nal for _, _, nal in packets if nal in (1, 5)]
    assert slices and set(slices) == {5}, sorted(set(slices))  # IDR slices only
    frames = sorted({ts for _, ts, nal in packets if nal == 5})
    steps = _gaps([ts / 90000 for ts in frames])
    assert len(frames) >= 8, len(frames)  # ~4 keyframes a second: 1 s GOPs at 4x
    assert 0.15 < statistics.median(steps) < 0.4, steps  # a 1 s GOP is 0.25 s at 4x

    # ffmpeg sends no Scale: the URL asks for it; ffprobe sees keyframes 1/8 s apart.
    out = tmp_path / "x8.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-rtsp_transport", "tcp", "-i", url + "&scale=8",
         "-t", "1.5", "-c", "copy", "-y", str(out)],
        check=True, timeout=60, capture_output=True,
    )
    fast = _packets(out)
    assert all(p["flags"].startswith("K") for p in fast), fast
    gaps = _gaps([float(p["pts_time"]) for p in fast])
    assert len(gaps) >= 7 and 0.08 < statistics.median(gaps) < 0.2, gaps
    # 2x keeps every frame (15 fps recorded: 30 a second of media time).
    out2 = tmp_path / "x2.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-rtsp_transport", "tcp", "-i", url + "&scale=2",
         "-t", "1", "-c", "copy", "-y", str(out2)],
        check=True, timeout=60, capture_output=True,
    )
    double = _packets(out2)
    times = sorted({round(float(p["pts_time"]), 2) for p in double})
    keys = _gaps([float(p["pts_time"]) for p in double if p["flags"].startswith("K")])
    assert len(times) >= 25 and len(keys) <= 3, (times, keys)  # a keyframe every 0.5 s
    steps = sorted(b - a for a, b in zip(times, times[1:], strict=False))
    assert 0.02 < steps[len(steps) // 2] < 0.045, steps  # 15 fps at 2x: 1/30 s apart
    # A speed the relay does not offer is refused.
    bad = subprocess.run(
        ["ffmpeg", "-v", "error", "-rtsp_transport", "tcp", "-i", url + "&scale=3",
         "-t", "1", "-c", "copy", "-y", str(tmp_path / "x3.mp4")],
        timeout=60, capture_output=True,
    )
    assert bad.returncode != 0
