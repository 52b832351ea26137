"""fMP4 over WebSocket (the fallback where WebRTC cannot pass) with a real client.

The received init segment + media segments are written to a file and decoded by
ffprobe: every frame decodes, the first is a keyframe, nothing was re-encoded.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import websockets
from websockets.asyncio.client import ClientConnection

from devkit.fixtures.ffprobe import ffprobe
from devkit.fixtures.streams import RELAY_CORES
from streams.fmp4.boxes import BoxSplitter


async def receive(url: str, segments: int) -> tuple[dict, bytes, list[bytes]]:
    async with websockets.connect(url, max_size=8 * 1024 * 1024) as ws:
        hello = json.loads(await asyncio.wait_for(ws.recv(), 20))
        init = await _binary(ws)
        media = [await _binary(ws) for _ in range(segments)]
    return hello, init, media


async def _binary(ws: ClientConnection) -> bytes:
    message = await asyncio.wait_for(ws.recv(), 10)
    assert isinstance(message, bytes), f"a text message where media was due: {message[:80]!r}"
    return message


async def close_reason(url: str) -> tuple[int, str]:
    async with websockets.connect(url) as ws:
        try:
            await asyncio.wait_for(ws.recv(), 20)
        except websockets.ConnectionClosed as exc:
            assert exc.rcvd is not None, "closed without a close frame"
            return exc.rcvd.code, exc.rcvd.reason
    raise AssertionError("the relay did not close the socket")


def probe_frames(path: Path) -> list[dict]:
    return ffprobe(path, "frame=key_frame,pict_type,width,height")["frames"]


@RELAY_CORES
def test_fmp4_websocket_streams_decodable_fragments_from_the_gop_keyframe(
    cameras, relay_factory, tmp_path: Path
) -> None:
    relay = relay_factory({"cam1": cameras.url("cam1")})
    ws = f"ws://127.0.0.1:{relay.http_port}/fmp4/cam1?token={relay.token('cam1', ('fmp4',))}"
    hello, init, media = asyncio.run(receive(ws, 45))

    assert hello["type"] == "init" and hello["codec"] == "h264"
    assert hello["mime"].startswith('video/mp4; codecs="avc1.'), hello
    assert [k for k, _ in BoxSplitter().feed(init)] == ["ftyp", "moov"]
    for segment in media:  # one moof + mdat per message, nothing else
        assert [k for k, _ in BoxSplitter().feed(segment)] == ["moof", "mdat"]
    path = tmp_path / "received.mp4"
    path.write_bytes(init + b"".join(media))
    frames = probe_frames(path)
    assert len(frames) == 45
    assert frames[0]["key_frame"] == 1 and frames[0]["pict_type"] == "I"
    assert (frames[0]["width"], frames[0]["height"]) == (640, 360)
    # GOP 15: keyframes recur every 15 frames of the camera, passed through as they came
    assert sum(f["key_frame"] for f in frames) >= 2
    left = relay.wait_health("cam1", lambda h: h["fmp4_viewers"] == 0, 10)
    assert left["fmp4_viewers"] == 0  # the viewer left: counted out


def test_fmp4_websocket_refusals_carry_a_reason(cameras, relay_factory) -> None:
    relay = relay_factory({"cam1": cameras.url("cam1")})
    base = f"ws://127.0.0.1:{relay.http_port}/fmp4"
    code, reason = asyncio.run(close_reason(f"{base}/cam1"))
    assert (code, reason) == (4401, "missing play token")
    code, reason = asyncio.run(
        close_reason(f"{base}/cam1?token={relay.token('cam1', ('webrtc',))}")
    )
    assert (code, reason) == (4401, "play token does not allow fmp4")
    code, _ = asyncio.run(close_reason(f"{base}/nope?token={relay.token('nope', ('fmp4',))}"))
    assert code == 4404
    assert relay.health("cam1")["state"] == "idle"  # refused viewers never pulled the camera
