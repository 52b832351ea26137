"""The ``h264`` profile (#16): an H.265 camera transcoded to H.264 on demand, for browsers
without an HEVC decoder. One camera connection (the transcode reads the main stream), the
main profile still H.265 passthrough, every output serves it, idle close as any profile.
Real synthetic H.265 camera, real relay, ffprobe as the independent reader."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from devkit.fixtures.ffprobe import ffprobe
from devkit.fixtures.streams import SERVICE, GstReader, whep_size
from tests.test_streams_fmp4 import probe_frames, receive


def _codec(url: str) -> dict[str, Any]:
    return ffprobe(url, "stream=codec_name,profile,width,height")["streams"][0]


def test_h265_camera_h264_profile(camera_factory: Any, relay_factory: Any,
                                  loopback_ice: None) -> None:
    cams = camera_factory(["hevc"], mode="loop", codec="h265")
    port = int(cams.url("hevc").split(":")[2].split("/")[0])
    relay = relay_factory({"hevc": cams.url("hevc")}, idle_close_s=1)
    token = relay.token("hevc")
    base = f"rtsp://127.0.0.1:{relay.rtsp_port}/hevc"
    h264 = _codec(f"{base}/h264?token={token}")
    assert h264["codec_name"] == "h264" and (h264["width"], h264["height"]) == (640, 360), h264
    assert _codec(f"{base}?token={token}")["codec_name"] == "hevc"  # main: passthrough
    # While the transcode runs: one connection to the camera, health says what it does.
    reader = GstReader(f"{base}/h264?token={token}").start()
    try:
        assert reader.wait_frames(10) >= 10, reader.errors
        h = relay.wait_health("hevc~h264", lambda h: h["state"] == "live" and h["fps"] > 5)
        assert h["codec"] == "h264" and h["transcode"]["running"], h
        assert h["transcode"]["from"] == "h265" and h["transcode"]["frames_decoded"] > 0, h
        assert relay.health("hevc")["codec"] == "h265"
        assert relay.upstream_connections(port) == 1
        metrics = httpx.get(f"{relay.http}/metrics", headers=SERVICE, timeout=10).text
        assert 'cityhub_stream_transcoding{camera="hevc~h264",source_codec="h265"} 1.0' in metrics
        # A reader joining the running transcode (a new RTSP media on it) does not stall it.
        joined = GstReader(f"{base}/h264?token={token}").start()
        try:
            before = reader.frames
            assert joined.wait_frames(25) >= 25, joined.errors
            assert reader.wait_frames(before + 25) >= before + 25, reader.errors
        finally:
            joined.stop()
        assert relay.health("hevc~h264")["upstream_connects"] == h["upstream_connects"]
    finally:
        reader.stop()
    # Nobody watches: the transcode stops, then the camera connection it held.
    assert relay.wait_state("hevc~h264", "idle")["state"] == "idle"
    assert relay.wait_state("hevc", "idle")["state"] == "idle"

    # WebRTC (H.264 only) serves the profile
    assert asyncio.run(whep_size(f"{relay.http}/whep/hevc?profile=h264", token)) == (640, 360)


def test_fmp4_h264_profile_keeps_the_camera_gop(
    camera_factory: Any, relay_factory: Any, tmp_path: Path
) -> None:
    hevc = camera_factory(["hevc"], mode="loop", codec="h265")
    avc = camera_factory(["cam1"], mode="loop")
    relay = relay_factory({"hevc": hevc.url("hevc"),
                           "cam1": {"url": avc.url("cam1"), "always_on": True}})
    base = f"ws://127.0.0.1:{relay.http_port}/fmp4"
    url = f"{base}/hevc?profile=h264&token={relay.token('hevc', ('fmp4',))}"
    hello, init, media = asyncio.run(receive(url, 45))
    assert hello["codec"] == "h264" and 'codecs="avc1.42' in hello["mime"], hello
    path = tmp_path / "transcoded.mp4"
    path.write_bytes(init + b"".join(media))
    frames = probe_frames(path)
    assert len(frames) == 45 and frames[0]["key_frame"] == 1
    keys = [i for i, f in enumerate(frames) if f["key_frame"]]
    assert keys[:3] == [0, 15, 30], keys  # the camera's GOP (15 frames), not x264's own
    # An H.264 camera's h264 profile is its main stream (once its codec is known): nothing
    # transcoded.
    assert relay.wait_state("cam1", "live")["codec"] == "h264"
    url = f"{base}/cam1?profile=h264&token={relay.token('cam1', ('fmp4',))}"
    hello, _, _ = asyncio.run(receive(url, 1))
    assert hello["codec"] == "h264"
    assert "cam1~h264" not in {h["camera_id"] for h in relay.health_all()}
