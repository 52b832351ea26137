"""Pull one camera's RTSP over TCP-interleaved with asyncio, feeding a PacketTrack.

DESCRIBE (Basic or Digest on a 401), SETUP of the first H.264/H.265 video track, PLAY;
then every chunk received goes to ``PacketTrack.feed`` as frame offsets (no copies but the
packets forwarded). Keep-alive with OPTIONS at half the session timeout; no first packet
within ``timeout_s`` of PLAY (the connect timeout, as the GStreamer core's first frame), a
silent camera (``stall_s``) or a closed connection ends the pull with a reason.
"""

from __future__ import annotations

import asyncio
import re
import time
from base64 import b64encode
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from core import digest
from streams.packet.sdp import SdpError, video_track
from streams.packet.track import PacketTrack
from streams.packet.wire import Message, WireError, request, split


class PullError(Exception):
    """Why a pull ended (shown in health and logs; never carries credentials)."""


def authorization(challenge: str, method: str, uri: str, user: str, password: str) -> str:
    """The Authorization header answering a camera's WWW-Authenticate (Digest preferred)."""
    for line in challenge.split("\n"):
        if line.strip()[:7].lower() == "digest ":
            return digest.authorization(line, method, uri, user, password)
    return "Basic " + b64encode(f"{user}:{password}".encode()).decode()


class _Puller(asyncio.Protocol):
    def __init__(self, track: PacketTrack) -> None:
        self.track = track
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.replies: dict[str, asyncio.Future[Message]] = {}
        self.closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.last_rx = time.monotonic()
        self.playing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        self.last_rx = time.monotonic()
        try:
            frames, msgs, used = split(buf)
        except WireError as exc:
            self._end(f"camera sent malformed RTSP: {exc}")
            return
        if frames and self.playing:
            self.track.feed(buf, frames)
        for msg in msgs:
            fut = self.replies.pop(msg.header("cseq"), None)
            if fut is not None and not fut.done():
                fut.set_result(msg)
        del buf[:used]

    def connection_lost(self, exc: Exception | None) -> None:
        self._end(f"camera closed the connection{f': {exc}' if exc else ''}")

    def _end(self, why: str) -> None:
        if not self.closed.done():
            self.closed.set_result(why)
        for fut in self.replies.values():
            if not fut.done():
                fut.set_exception(PullError(why))
        if self.transport is not None:
            self.transport.close()


class RtspPull:
    """One connection to a camera; ``run()`` returns (or raises PullError) when it ends."""

    def __init__(self, url: str, username: str | None, password: str | None,
                 track: PacketTrack, timeout_s: float = 10.0, stall_s: float = 5.0) -> None:
        parts = urlsplit(url)
        self.username = username or (unquote(parts.username) if parts.username else None)
        self.password = password or (unquote(parts.password) if parts.password else None)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        self.url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
        self.host, self.port = host, parts.port or 554
        self.track, self.timeout_s, self.stall_s = track, timeout_s, stall_s
        self._cseq = 0
        self._challenge: str | None = None
        self._session: str | None = None
        self._proto: _Puller | None = None

    async def _ask(self, method: str, url: str, headers: dict[str, str] | None = None) -> Message:
        proto = self._proto
        assert proto is not None and proto.transport is not None
        for _attempt in range(2):
            self._cseq += 1
            h = dict(headers or {})
            if self._session:
                h["Session"] = self._session
            if self._challenge and self.username is not None:
                h["Authorization"] = authorization(
                    self._challenge, method, url, self.username, self.password or "")
            fut = asyncio.get_running_loop().create_future()
            proto.replies[str(self._cseq)] = fut
            proto.transport.write(request(method, url, self._cseq, h))
            try:
                reply = await asyncio.wait_for(fut, self.timeout_s)
            except TimeoutError as exc:
                raise PullError(f"camera did not answer {method} in {self.timeout_s:g}s") from exc
            if reply.status == 401 and self._challenge is None and self.username is not None:
                self._challenge = reply.header("www-authenticate")
                continue
            if reply.status == 401:
                raise PullError("camera refused the credentials (401 Unauthorized)")
            if reply.status == 404:
                raise PullError("camera has no such stream (404 Not Found): check the URL path")
            if reply.status != 200:
                raise PullError(f"camera answered {method} with {reply.status} {reply.reason}")
            return reply
        raise PullError("camera refused the credentials (401 Unauthorized)")

    async def run(self) -> str:
        loop = asyncio.get_running_loop()
        try:
            _t, proto = await asyncio.wait_for(
                loop.create_connection(lambda: _Puller(self.track), self.host, self.port),
                self.timeout_s)
        except (OSError, TimeoutError) as exc:
            raise PullError(f"camera unreachable: {exc or 'timeout'}") from exc
        self._proto = proto
        try:
            return await self._play(proto)
        finally:
            proto._end("pull stopped")
            self.track.end_session()

    async def _play(self, proto: _Puller) -> str:
        reply = await self._ask("DESCRIBE", self.url, {"Accept": "application/sdp"})
        try:
            video = video_track(reply.body.decode("utf-8", "replace"))
        except SdpError as exc:
            raise PullError(str(exc)) from exc
        base = reply.header("content-base") or reply.header("content-location") or self.url
        base = base if base.endswith("/") else base + "/"
        control = video.control
        setup_url = control if "://" in control else urljoin(base, control) if control else base
        reply = await self._ask("SETUP", setup_url,
                                {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})
        session, _, params = reply.header("session").partition(";")
        self._session = session.strip() or None
        m = re.search(r"timeout=(\d+)", params)
        keepalive = max(int(m.group(1)) / 2 if m else 30.0, 1.0)
        m = re.search(r"interleaved=(\d+)", reply.header("transport"))
        self.track.start_session(video, int(m.group(1)) if m else 0)
        proto.playing = True
        started = time.monotonic()
        await self._ask("PLAY", base.rstrip("/"), {"Range": "npt=0.000-"})
        return await self._hold(proto, keepalive, started)

    async def _hold(self, proto: _Puller, keepalive: float, started: float) -> str:
        """Until the camera goes: keep-alive, and stall detection."""
        tick = min(0.5, self.stall_s / 4)
        next_alive = started + keepalive
        while True:
            done, _ = await asyncio.wait({proto.closed}, timeout=tick)
            if done:
                raise PullError(proto.closed.result())
            now = time.monotonic()
            last = self.track.counters.last_packet_at or 0.0
            if last < started:  # the first packet may take connect_timeout_s, as on GStreamer
                if now - started > self.timeout_s:
                    raise PullError(f"no video within {self.timeout_s:g}s of connecting")
            elif now - last > self.stall_s:
                raise PullError(f"no packet for {self.stall_s:g}s")
            if now >= next_alive:
                next_alive = now + keepalive
                self._cseq += 1  # the reply is read and ignored
                if proto.transport is not None:
                    proto.transport.write(request("OPTIONS", self.url, self._cseq,
                                                  {"Session": self._session or ""}))
