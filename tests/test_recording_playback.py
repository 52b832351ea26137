"""Playback of recorded footage over fMP4/WebSocket: from an instant, seek, 4x, tokens."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import websockets

from devkit.fixtures.ffprobe import ffprobe
from devkit.fixtures.streams import RELAY_CORES
from devkit.fixtures.wait import wait_for
from tests.test_recording import recording, segments


async def _timeline(ws, media_s: float) -> tuple[dict, bytes]:
    """The next init message and the fMP4 bytes of ``media_s`` seconds of its timeline."""
    while True:
        msg = await asyncio.wait_for(ws.recv(), 20)
        if isinstance(msg, str) and json.loads(msg)["type"] == "init":
            hello = json.loads(msg)
            break
    data = await asyncio.wait_for(ws.recv(), 20)
    frames = 0
    while frames < media_s * 15 / (4 if hello["speed"] > 2 else 1):
        msg = await asyncio.wait_for(ws.recv(), 20)
        if isinstance(msg, str):
            break
        data += msg
        frames += 1
    return hello, data


def _recorded(camera_factory, relay_factory, tmp_path: Path, n: int) -> tuple:
    """A relay recording a looped camera in 2 s segments, once ``n`` segments are written:
    (recording root, relay, segments)."""
    root = tmp_path / "rec"
    cam = camera_factory(["cam1"], mode="loop")
    relay = relay_factory({"cam1": cam.url("cam1")}, recording=recording(root, segment_s=2))
    wait_for(lambda: len(segments(root, "cam1")) >= n, timeout=40, what=f"{2 * n} s of footage")
    return root, relay, segments(root, "cam1")


def _packets(path: Path) -> list[dict]:
    return ffprobe(path, "packet=pts_time,flags")["packets"]


def test_playback_from_an_instant_seeks_and_plays_at_4x(
    camera_factory, relay_factory, tmp_path
) -> None:
    root, relay, segs = _recorded(camera_factory, relay_factory, tmp_path, 6)
    token = relay.token("cam1", ("playback",))
    url = f"ws://127.0.0.1:{relay.http_port}/playback/cam1?token={token}"

    async def scenario() -> None:
        async with websockets.connect(url, max_size=16 * 1024 * 1024) as ws:
            at = segs[1]["start"] + 1.4
            await ws.send(json.dumps({"type": "play", "at": at, "speed": 1}))
            hello, data = await _timeline(ws, 2)
            # Starts on the keyframe at or before the instant: within one GOP (1 s) of it.
            assert hello["start"] <= at + 0.01 and at - hello["start"] <= 1.05, (hello, at)
            (tmp_path / "a.mp4").write_bytes(data)
            packets = _packets(tmp_path / "a.mp4")
            assert packets[0]["flags"].startswith("K") and float(packets[0]["pts_time"]) < 0.01
            assert len(packets) >= 20
            # Seek back to another instant.
            at2 = segs[3]["start"] + 0.5
            await ws.send(json.dumps({"type": "play", "at": at2, "speed": 1}))
            hello2, _ = await _timeline(ws, 1)
            assert hello2["start"] <= at2 + 0.01 and at2 - hello2["start"] <= 1.05
            # 4x: keyframes only, timestamps scaled by the server.
            await ws.send(json.dumps({"type": "play", "at": segs[0]["start"], "speed": 4}))
            hello4, data4 = await _timeline(ws, 6)
            assert hello4["speed"] == 4
            (tmp_path / "b.mp4").write_bytes(data4)
            packets4 = _packets(tmp_path / "b.mp4")
            assert len(packets4) >= 4
            assert all(p["flags"].startswith("K") for p in packets4), packets4
            steps = [
                float(b["pts_time"]) - float(a["pts_time"])
                for a, b in zip(packets4, packets4[1:], strict=False)
            ]
            assert all(0.2 <= s <= 0.3 for s in steps), steps  # 1 s GOP at 4x

    asyncio.run(scenario())


def test_playback_needs_a_playback_token(camera_factory, relay_factory, tmp_path) -> None:
    root = tmp_path / "rec"
    cam = camera_factory(["cam1"], mode="loop")
    relay = relay_factory({"cam1": cam.url("cam1")}, recording=recording(root))
    live_only = relay.token("cam1", ("rtsp", "webrtc", "fmp4"))

    async def scenario() -> None:
        url = f"ws://127.0.0.1:{relay.http_port}/playback/cam1?token={live_only}"
        async with websockets.connect(url) as ws:
            try:
                await asyncio.wait_for(ws.recv(), 10)
            except websockets.ConnectionClosed as exc:
                assert exc.rcvd is not None and exc.rcvd.code == 4401
            else:
                raise AssertionError("playback served without a playback token")

    asyncio.run(scenario())
    import httpx

    r = httpx.get(f"{relay.http}/recordings/cam1/segments?token={live_only}", timeout=10)
    assert r.status_code == 401


def test_export_of_a_range_plays_serves_byte_ranges_and_its_manifest_verifies(
    camera_factory, relay_factory, tmp_path
) -> None:
    import httpx

    from devkit.fixtures.streams import SECRET
    from streams.playback.export import verify_manifest
    from streams.recording.journal import read_lines

    root, relay, segs = _recorded(camera_factory, relay_factory, tmp_path, 4)
    start, end = segs[0]["start"] + 1.0, segs[2]["end"] - 0.5
    auth = {"Authorization": f"Bearer {relay.token('cam1', ('playback',))}"}
    r = httpx.post(
        f"{relay.http}/recordings/cam1/exports",
        json={"start": start, "end": end},
        headers=auth,
        timeout=60,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    mp4 = httpx.get(relay.http + body["mp4"], headers=auth, timeout=30)
    assert mp4.status_code == 200
    (tmp_path / "export.mp4").write_bytes(mp4.content)
    duration = float(ffprobe(tmp_path / "export.mp4", "format=duration")["format"]["duration"])
    assert (end - start) - 0.3 <= duration <= (end - start) + 1.2, duration  # from the GOP start
    part = httpx.get(relay.http + body["mp4"], headers={**auth, "Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == mp4.content[100:200]
    manifest = httpx.get(relay.http + body["mp4"][:-4] + ".json", headers=auth).json()
    assert manifest == body["manifest"]
    assert verify_manifest(manifest, mp4.content, SECRET) == []
    assert [s["seq"] for s in manifest["segments"]] == [s["seq"] for s in segs[:3]]
    links = {
        x["seq"]: x["link"]
        for x in read_lines(root / "cam1" / "index.jsonl")
        if x["kind"] == "segment"
    }
    assert all(links[s["seq"]] == s["link"] for s in manifest["segments"])
    tampered = bytearray(mp4.content)
    tampered[len(tampered) // 2] ^= 1
    assert verify_manifest(manifest, bytes(tampered), SECRET)
    # Exported footage is held (retention never deletes it).
    held = {x["seq"] for x in read_lines(root / "cam1" / "index.jsonl") if x["kind"] == "hold"}
    assert held >= {s["seq"] for s in segs[:3]}
    # Without playback in the token: no export.
    live = {"Authorization": f"Bearer {relay.token('cam1', ('rtsp', 'webrtc'))}"}
    r = httpx.post(
        f"{relay.http}/recordings/cam1/exports",
        json={"start": start, "end": end},
        headers=live,
        timeout=10,
    )
    assert r.status_code == 401


@RELAY_CORES
def test_rtsp_playback_in_ffmpeg_from_an_instant_and_with_a_range(
    camera_factory, relay_factory, tmp_path
) -> None:
    root, relay, segs = _recorded(camera_factory, relay_factory, tmp_path, 5)
    token = relay.token("cam1", ("rtsp", "playback"))
    at = segs[1]["start"] + 0.5
    url = f"rtsp://127.0.0.1:{relay.rtsp_port}/cam1/recorded?token={token}&start={at}"

    def copy(source: str, name: str, seconds: str, *before: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["ffmpeg", "-v", "error", "-rtsp_transport", "tcp", *before, "-i", source,
             "-t", seconds, "-c", "copy", "-y", str(tmp_path / name)],
            timeout=60, capture_output=True,
        )

    def grab(name: str, *before: str) -> list[dict]:
        copy(url, name, "2", *before).check_returncode()
        return _packets(tmp_path / name)

    packets = grab("rtsp.mp4")
    assert len(packets) >= 20 and packets[0]["flags"].startswith("K")
    # A Range (ffmpeg -ss): plays from later in the recording.
    later = grab("rtsp-ss.mp4", "-ss", "3")
    assert len(later) >= 20 and later[0]["flags"].startswith("K")
    # A token without playback gets nothing.
    live = relay.token("cam1", ("rtsp",))
    assert copy(url.replace(token, live), "no.mp4", "1").returncode != 0
