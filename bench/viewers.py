"""Viewers for ``bench.soak`` that behave as the web UI's player does, reloads excepted.

``python -m bench.viewers --hub URL --user U --password-file F --cameras a,b --webrtc N
--fmp4 M --state FILE`` runs N WebRTC (WHEP) and M fMP4-over-WebSocket viewers in this
process, spread over the cameras, and rewrites FILE (JSON) twice a second with what each
has received. Every viewer goes where a browser's tile goes: a play token from the hub's
API (``POST /api/v1/cameras/{id}/play``), then the hub's relay gateway (``/ui/relay/whep``,
``/ui/relay/fmp4``), and it reconnects the way ``hub/ui/static/js/player.js`` does (the
constants below are that file's; ``tests/test_bench_viewers.py`` keeps them equal): a view
is lost when its connection fails or closes, no frame came for ``STALL_S``, or (WebRTC) its
WHEP session's event stream says the relay closed the session or died; the player
asks the relay whether access ended the view (then it stops, as the UI does), else retries
after ``RETRY_S`` (growing with each failure in a row), as it does when the hub does not
answer for a play token or the gateway cannot reach the relay. Any other failed start falls
back to snapshots and tries video again after ``FALLBACK_S`` (the snapshots themselves are
not fetched here: they do not make video play). ui.video_transport "webrtc" and "fmp4" are the
two player modes modelled.

WebRTC frames are counted as aiortc assembles them, not decoded (64 viewers decoding 720p
would need more cores than the relay under test); fMP4 frames are the relay's media
segments, one per frame. A frame gap of at least ``GAP_S`` is kept as an interruption, so
that bench.soak can tell, per part killed, when each viewer played again.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets
from aioice import turn as aioice_turn
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription, rtcrtpreceiver
from aiortc.codecs.base import Decoder

from bench.viewer_hub import Hub, PlayTokens
from streams.webrtc.ice import configure_ice_hosts

#: hub/ui/static/js/player.js: RETRY_MS, RETRY_JITTER, FIRST_FRAME_MS, STALL_MS, STALL_CHECK_MS,
#: EVENTS_RETRY_MS, FALLBACK_MS, TOKEN_REUSE_MS.
RETRY_S = (0.1, 0.5, 1.0, 1.0, 2.0, 4.0, 8.0, 15.0)
RETRY_JITTER = 0.25
FIRST_FRAME_S = 10.0
STALL_S = 1.5
STALL_CHECK_S = 0.25
EVENTS_RETRY_S = 1.0
FALLBACK_S = 30.0
TOKEN_REUSE_S = 30.0
GAP_S = 1.0  #: a frame gap this long is an interruption (the cameras send 15-25 fps)


class _CountingDecoder(Decoder):
    """Hands aiortc's assembled (encoded) frames on instead of decoding them."""

    def decode(self, encoded_frame: Any) -> list[Any]:
        return [encoded_frame]


def count_without_decoding() -> None:
    rtcrtpreceiver.get_decoder = lambda codec: _CountingDecoder()


def roomy_receive_buffers(size: int = 4 * 2**20) -> None:
    """Give each viewer's UDP socket ``size`` bytes of receive buffer (aioice asks for
    256 KB; the kernel caps it at net.core.rmem_max). Dozens of viewers in one Python
    process all get a camera's keyframe burst at once: with 256 KB each, the kernel dropped
    packets of the viewers served last (UDP RcvbufErrors), which no browser, each with a
    process of its own, would see."""
    aioice_turn.UDP_SOCKET_BUFFER_SIZE = size


class Lost(Exception):
    """The view stopped playing (connection closed or failed, or stalled), or did not start;
    ``relay_down``: the gateway could not reach the relay (WHEP 502, WebSocket close 4502);
    ``refused``: the relay refused the play token (WHEP 401/403, close 4401/4403)."""

    def __init__(self, why: str, relay_down: bool = False, refused: bool = False) -> None:
        super().__init__(why)
        self.relay_down = relay_down
        self.refused = refused


@dataclass
class Viewer:
    camera: str
    transport: str  #: "webrtc" or "fmp4"
    frames: int = 0
    first_frame: float = 0.0
    last_frame: float = 0.0  #: wall clock, comparable across processes
    gaps: list[tuple[float, float]] = field(default_factory=list)
    connects: int = 0
    #: When each connection showed its first frame (wall clock): a reconnect whose frame gap
    #: stayed under GAP_S is still seen.
    connected: list[float] = field(default_factory=list)
    failures: int = 0
    ended: str | None = None  #: access taken away: the UI stops, so does this viewer
    error: str = ""

    def frame(self) -> None:
        now = time.time()
        if self.last_frame and now - self.last_frame >= GAP_S:
            self.gaps.append((round(self.last_frame, 3), round(now, 3)))
        self.first_frame = self.first_frame or now
        self.last_frame = now
        self.frames += 1


async def _stalled(v: Viewer) -> None:
    """Returns when no frame came for STALL_S (the player's stall watch, checked each second)."""
    while time.time() - v.last_frame <= STALL_S:
        await asyncio.sleep(STALL_CHECK_S)
    raise Lost("video stalled")


async def _first_frame(v: Viewer, start: int) -> None:
    deadline = time.monotonic() + FIRST_FRAME_S
    while v.frames == start:
        if time.monotonic() > deadline:
            raise Lost("no video within 10 s")
        await asyncio.sleep(0.1)


async def _watch(v: Viewer, reader: asyncio.Task[None], *ends: asyncio.Future[Any]) -> None:
    """A view from its first frame until the reader stops, one of ``ends`` comes (the
    connection closed) or the video stalls; the reader's own error is raised."""
    try:
        first = asyncio.ensure_future(_first_frame(v, v.frames))
        done, _ = await asyncio.wait([first, reader, *ends], return_when=asyncio.FIRST_COMPLETED)
        if first not in done:  # lost before its first frame (start() fails; 502: relay down)
            first.cancel()
            for task in done:
                task.result()
            raise Lost("ended before its first frame")
        first.result()
        v.connects += 1
        v.connected.append(round(v.last_frame, 3))
        v.failures = 0
        stall = asyncio.ensure_future(_stalled(v))
        try:
            done, _ = await asyncio.wait([reader, stall, *ends],
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            stall.cancel()
        for task in done:
            task.result()
    finally:
        reader.cancel()


async def play_webrtc(v: Viewer, hub: Hub, token: str) -> None:
    """One WHEP view through the gateway, until it is lost."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    resource = None
    try:
        pc.addTransceiver("video", direction="recvonly")
        closed = asyncio.get_running_loop().create_future()

        @pc.on("connectionstatechange")
        def _state() -> None:
            if pc.connectionState in ("failed", "closed") and not closed.done():
                closed.set_result(pc.connectionState)

        tracks: asyncio.Queue[Any] = asyncio.Queue()
        pc.on("track", tracks.put_nowait)
        await pc.setLocalDescription(await pc.createOffer())
        r = await hub.http.post(f"/ui/relay/whep/{v.camera}?profile=main",
                                content=pc.localDescription.sdp,
                                headers={"Content-Type": "application/sdp",
                                         "Authorization": f"Bearer {token}"})
        if r.status_code != 201:
            raise Lost(f"WHEP {r.status_code} {r.text[:100]}", r.status_code == 502,
                       r.status_code in (401, 403))
        resource = r.headers.get("location")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=r.text, type="answer"))
        track = await asyncio.wait_for(tracks.get(), FIRST_FRAME_S)

        async def read() -> None:
            while True:
                await track.recv()  # MediaStreamError when the track ends
                v.frame()

        events = asyncio.ensure_future(watch_session(hub, resource))
        try:
            await _watch(v, asyncio.create_task(read()), closed, events)
        finally:
            events.cancel()
        raise Lost("connection " + str(closed.result() if closed.done() else "ended"))
    except Lost:
        raise
    except Exception as exc:
        raise Lost(str(exc) or type(exc).__name__) from exc
    finally:
        if resource:  # not awaited, as player.js does not: a dead relay's gateway holds it
            hang_up = asyncio.create_task(_delete(hub, resource))
            _HANGING_UP.add(hang_up)
            hang_up.add_done_callback(_HANGING_UP.discard)
        await pc.close()


_HANGING_UP: set[asyncio.Task[None]] = set()  #: WHEP DELETEs under way (kept from the GC)


async def _delete(hub: Hub, resource: str) -> None:
    with contextlib.suppress(httpx.HTTPError):
        await hub.http.delete(resource)


async def watch_session(hub: Hub, resource: str) -> None:
    """player.js _watchSession: raises Lost when the WHEP session's event stream (through
    the gateway) says the relay closed the session or died; a stream that broke otherwise
    (the hub restarting) is opened again after EVENTS_RETRY_S."""
    while True:
        with contextlib.suppress(httpx.HTTPError):
            async with hub.http.stream("GET", f"{resource}/events",
                                       timeout=httpx.Timeout(60, read=None)) as r:
                if r.status_code == 404:
                    raise Lost("session closed by the relay")
                if r.status_code == 200:
                    async for line in r.aiter_lines():
                        if line == "event: closed":
                            raise Lost("session closed by the relay")
                        if line == "event: relay-lost":
                            raise Lost("relay connection lost", relay_down=True)
        await asyncio.sleep(EVENTS_RETRY_S)


async def play_fmp4(v: Viewer, hub: Hub, token: str) -> None:
    """One fMP4 WebSocket view through the gateway, until it is lost."""
    base = hub.base.replace("http", "ws", 1)
    url = f"{base}/ui/relay/fmp4/{v.camera}?profile=main&token={token}"
    try:
        async with websockets.connect(url, open_timeout=FIRST_FRAME_S, max_size=16 * 2**20) as ws:
            hello = json.loads(await asyncio.wait_for(ws.recv(), FIRST_FRAME_S))
            if hello.get("type") != "init":
                raise Lost(f"fMP4: {hello}")
            await asyncio.wait_for(ws.recv(), FIRST_FRAME_S)  # the init segment

            async def read() -> None:
                async for message in ws:
                    if isinstance(message, bytes):
                        v.frame()
                raise Lost(f"fMP4 WebSocket closed ({ws.close_code})", ws.close_code == 4502)

            await _watch(v, asyncio.create_task(read()))  # raises Lost: read() ends only so
    except Lost:
        raise
    except websockets.ConnectionClosed as exc:
        code = exc.rcvd.code if exc.rcvd else None
        raise Lost(f"fMP4 WebSocket closed ({code})", code == 4502, code in (4401, 4403)) from exc
    except Exception as exc:
        raise Lost(str(exc) or type(exc).__name__) from exc


async def run_viewer(v: Viewer, hub: Hub, stop: asyncio.Event) -> None:
    """The player's life: start; on a loss retry with back-off; a failed start falls back."""
    protocols = ["webrtc", "snapshot", "clip"] + (["fmp4"] if v.transport == "fmp4" else [])
    play = play_webrtc if v.transport == "webrtc" else play_fmp4
    tokens, relay_down = PlayTokens(hub, v.camera, protocols, TOKEN_REUSE_S), False
    while not stop.is_set():
        try:
            token, session, reused = await tokens.get(relay_down)
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            v.error = f"play token: {exc}"  # player.js start(): "offline", retried on back-off
            relay_down = False
            await _wait(stop, backoff(v))
            continue
        connects, relay_down = v.connects, False
        try:
            await play(v, hub, token)
        except Lost as exc:
            v.error, relay_down = str(exc), exc.relay_down
            if reused and exc.refused:  # a new token, at once
                tokens.current = None
                continue
        if stop.is_set():
            return
        if v.connects == connects and not relay_down:  # never played: snapshot fallback
            await _wait(stop, FALLBACK_S)
            continue
        if v.connects > connects and not relay_down:  # did access end it? (player.js _lost)
            v.ended = await hub.ended(v.camera, session)
            if v.ended:
                return
        await _wait(stop, backoff(v))


def backoff(v: Viewer) -> float:
    """The player's wait before its next try (longer with each failure in a row, jittered)."""
    wait = RETRY_S[min(v.failures, len(RETRY_S) - 1)]
    v.failures += 1
    return wait * (1 + RETRY_JITTER * random.uniform(-1, 1))


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def write_state(path: Path, viewers: list[Viewer]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"t": time.time(), "viewers": [asdict(v) for v in viewers]}))
    os.replace(tmp, path)


def read_state(path: Path) -> list[dict[str, Any]]:
    try:
        return list(json.loads(path.read_text())["viewers"])
    except (OSError, ValueError, KeyError):
        return []


async def main_async(a: argparse.Namespace) -> None:
    count_without_decoding()
    configure_ice_hosts(["127.0.0.1"])  # the relay runs on this host
    cameras = a.cameras.split(",")
    viewers = [Viewer(cameras[i % len(cameras)], "webrtc") for i in range(a.webrtc)]
    viewers += [Viewer(cameras[(a.webrtc + i) % len(cameras)], "fmp4") for i in range(a.fmp4)]
    hub = Hub(a.hub, a.user, Path(a.password_file).read_text().strip())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in ("SIGTERM", "SIGINT"):
        loop.add_signal_handler(getattr(__import__("signal"), sig), stop.set)
    tasks = []
    for v in viewers:  # staggered, as tiles of a wall open
        tasks.append(asyncio.create_task(run_viewer(v, hub, stop)))
        await asyncio.sleep(0.05)
    state = Path(a.state)
    while not stop.is_set():
        write_state(state, viewers)
        await _wait(stop, 0.5)
    await asyncio.gather(*tasks, return_exceptions=True)
    write_state(state, viewers)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--hub", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password-file", required=True)
    p.add_argument("--cameras", required=True, help="comma-separated camera ids")
    p.add_argument("--webrtc", type=int, default=0)
    p.add_argument("--fmp4", type=int, default=0)
    p.add_argument("--state", required=True, help="JSON file rewritten twice a second")
    asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    main()
