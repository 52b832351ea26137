"""The packet core's RTSP server: DESCRIBE / SETUP / PLAY over TCP-interleaved.

Readers get the camera's packets as received (streams/packet/track.py), starting on the
cached keyframe. Access is the same as the GStreamer re-serve's (streams/rtsp/auth.py): a
play token as ``?token=`` or as the Basic password, checked on DESCRIBE/SETUP/PLAY; a
connection that showed a valid token for a camera may go on without it. A connection for a
path the packet core does not serve (other sources, recorded playback, profiles) is passed
through to the GStreamer re-serve behind it (streams/packet/proxy.py): one port for readers.
UDP transport is refused with 461 (readers such as ffmpeg then use TCP).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import unquote, urlsplit

from streams.auth.tokens import PlayGrant
from streams.packet.camera import PacketCamera
from streams.packet.proxy import Splice
from streams.packet.sdp import reader_sdp
from streams.packet.track import SNDBUF, Reader
from streams.packet.wire import Message, WireError, response, split
from streams.rtsp.auth import Watch, token_from_request

log = logging.getLogger(__name__)

#: camera_id, token -> the grant (True where tokens carry none), False if refused; on the loop
#: (no thread hop on a reader's start: the hub is asked with asyncio where configured)
TokenCheck = Callable[[str, str | None], Awaitable["PlayGrant | bool"]]
PUBLIC = "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER, SET_PARAMETER"
TRACK = "trackID=0"
MAX_QUEUED = 32  #: requests a connection may have waiting for an answer


def mount_of(url: str) -> tuple[str, str | None]:
    """(mount path without the track control, query) of a request URL."""
    parts = urlsplit(url)
    path = unquote(parts.path or "/").rstrip("/")
    if path.endswith("/" + TRACK):
        path = path[: -len(TRACK) - 1]
    query = parts.query.split("/")[0] if parts.query else None  # "token=T/trackID=0"
    return path or "/", query


class PacketRtspServer:
    """Serves the mounts of packet-core cameras; other paths go to ``fallback`` (host, port)."""

    def __init__(self, host: str, port: int, check_token: TokenCheck | None = None,
                 watch: Watch | None = None, wait_sdp_s: float = 10.0) -> None:
        self.host, self.port = host, port
        self.check_token, self.watch = check_token, watch
        self.wait_sdp_s = wait_sdp_s
        self.mounts: dict[str, PacketCamera] = {}
        self.fallback: tuple[str, int] | None = None  # the GStreamer re-serve (loopback)
        self.refused = 0
        #: Admits the relay's own GStreamer outputs (loopback readers, not counted as viewers).
        self.internal_token = secrets.token_urlsafe(32)
        self._server: asyncio.Server | None = None

    def add(self, camera: PacketCamera, path: str | None = None) -> None:
        self.mounts[path or f"/{camera.camera_id}"] = camera

    def remove(self, path: str) -> None:
        self.mounts.pop(path, None)

    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: ReaderConnection(self), self.host, self.port, reuse_address=True)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None


class ReaderConnection(asyncio.Protocol):
    """One reader's TCP connection: requests in order, then interleaved packets out."""

    def __init__(self, server: PacketRtspServer) -> None:
        self.server = server
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.queue: asyncio.Queue[Message] = asyncio.Queue()
        self.granted: set[str] = set()  # cameras this connection showed a valid token for
        self.releases: list[Callable[[], None]] = []
        self.camera: PacketCamera | None = None
        self.reader: Reader | None = None
        self.session = secrets.token_hex(8)
        self.internal = False  # the relay's own loopback reader
        self.task: asyncio.Task[None] | None = None
        self.splice: Splice | None = None  # passed through to the GStreamer re-serve

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:  # a bounded kernel buffer: a slow reader shows in our backlog
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SNDBUF)
        self.task = asyncio.get_running_loop().create_task(self._serve())

    def data_received(self, data: bytes) -> None:
        if self.splice is not None:
            self.splice.feed(data)
            return
        self.buf += data
        try:
            _frames, msgs, used = split(self.buf)  # reader's RTCP (interleaved) is ignored
        except WireError as exc:
            log.info("rtsp reader: %s; closing", exc)
            if self.transport is not None:
                self.transport.write(response(400, "Bad Request", "0"))
                self.transport.close()
            return
        del self.buf[:used]
        for msg in msgs:
            self.queue.put_nowait(msg)
        if self.queue.qsize() > MAX_QUEUED and self.transport is not None:
            log.info("rtsp reader: %d requests unanswered; closing", self.queue.qsize())
            self.transport.abort()  # a flood of requests, not a reader

    def pause_writing(self) -> None:
        if self.splice is not None:
            self.splice.pause(True)

    def resume_writing(self) -> None:
        if self.splice is not None:
            self.splice.pause(False)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.splice is not None:
            self.splice.close()
        if self.camera is not None and self.reader is not None:
            self.camera.track.stop(self.reader)
        for release in self.releases:
            release()
        self.releases.clear()

    async def _serve(self) -> None:
        while True:
            msg = await self.queue.get()
            if self._passes(msg):
                await self._pass_through(msg)
                return
            try:
                reply = await self._handle(msg)
            except Exception:  # a bug answers 500 for this request; the server goes on
                log.exception("rtsp reader: %s failed", msg.method)
                reply = response(500, "Internal Server Error", msg.header("cseq", "0"))
            if self.transport is None or self.transport.is_closing():
                return
            self.transport.write(reply)
            if msg.method == "PLAY" and self.reader is not None and self.camera is not None:
                self._start_playing()
            elif msg.method == "TEARDOWN":
                self.transport.close()
                return

    def _passes(self, msg: Message) -> bool:
        """Whether this connection's first request is for a path served by the re-serve."""
        if self.camera is not None or self.server.fallback is None or msg.url == "*":
            return False
        if msg.method in ("TEARDOWN", "GET_PARAMETER", "SET_PARAMETER"):
            return False
        try:
            return mount_of(msg.url)[0] not in self.server.mounts
        except ValueError:
            return False

    async def _pass_through(self, msg: Message) -> None:
        """Splice the connection to the re-serve: ``msg``, the requests queued behind it and
        the bytes not parsed yet go first, then everything as it comes."""
        assert self.transport is not None and self.server.fallback is not None
        splice = Splice(self.transport)
        if not await splice.open(*self.server.fallback):
            self.transport.write(response(503, "Service Unavailable", msg.header("cseq", "0")))
            self.transport.close()
            return
        queued = [msg]
        while not self.queue.empty():
            queued.append(self.queue.get_nowait())
        splice.forward(queued)
        self.splice = splice
        rest, self.buf = bytes(self.buf), bytearray()
        if self.transport.is_closing():
            splice.close()
        elif rest:
            splice.feed(rest)

    def _start_playing(self) -> None:
        assert self.camera is not None and self.reader is not None
        if self.reader not in self.camera.track.readers:
            self.camera.track.play(self.reader)

    async def _handle(self, msg: Message) -> bytes:
        cseq = msg.header("cseq", "0")
        if msg.method in ("OPTIONS", "GET_PARAMETER", "SET_PARAMETER"):
            return response(200, "OK", cseq, {"Public": PUBLIC, "Session": self.session})
        if msg.method == "TEARDOWN":
            return response(200, "OK", cseq, {"Session": self.session})
        try:
            path, query = mount_of(msg.url)
        except ValueError:  # not a URL (an unclosed IPv6 bracket, ...)
            return response(400, "Bad Request", cseq)
        camera = self.server.mounts.get(path)
        if camera is None:
            return response(404, "Not Found", cseq)
        refusal = await self._admit(camera.camera_id, path, query, msg)
        if refusal is not None:
            return refusal
        if msg.method == "DESCRIBE":
            return await self._describe(camera, msg, cseq)
        if msg.method == "SETUP":
            return self._setup(camera, msg, cseq)
        if msg.method == "PLAY":
            return self._play(camera, msg, cseq)
        return response(405, "Method Not Allowed", cseq, {"Allow": PUBLIC})

    async def _admit(self, camera_id: str, path: str, query: str | None,
                     msg: Message) -> bytes | None:
        """None if the request may go on, else the 401 to answer."""
        check = self.server.check_token
        name = path.strip("/").split("/")[0]
        token = token_from_request(query, msg.header("authorization") or None)
        if check is None or (token is None and name in self.granted):
            return None
        if token is not None and secrets.compare_digest(token, self.server.internal_token):
            self.granted.add(name)
            self.internal = True
            return None
        grant = await check(name, token) if token else False
        if grant:
            self.granted.add(name)
            if self.server.watch is not None and isinstance(grant, PlayGrant):
                self.releases.append(self.server.watch(grant, self._end_threadsafe))
            return None
        self.server.refused += 1
        if token:
            log.info("rtsp %s: refused (invalid play token)", camera_id)
        return response(401, "Unauthorized", msg.header("cseq", "0"),
                        {"WWW-Authenticate": 'Basic realm="cityhub"'})

    def _end_threadsafe(self, why: str) -> None:
        """Access ended (the view guard, any thread): drop the reader's connection."""
        log.info("rtsp: closing a reader: %s", why)
        transport, task = self.transport, self.task
        if transport is not None and task is not None:
            task.get_loop().call_soon_threadsafe(transport.abort)

    async def _describe(self, camera: PacketCamera, msg: Message, cseq: str) -> bytes:
        if self.camera is None:
            self.camera = camera
            self.releases.append(camera.acquire())
        try:
            await asyncio.wait_for(camera.track.sdp_ready.wait(), self.server.wait_sdp_s)
        except TimeoutError:
            log.warning("rtsp %s: camera not available (%s)", camera.camera_id,
                        camera.last_error)
            return response(503, "Service Unavailable", cseq)
        video = camera.track.video
        assert video is not None
        parts = urlsplit(msg.url)
        base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}/"
        host = (parts.hostname or "127.0.0.1")
        return response(200, "OK", cseq, {"Content-Type": "application/sdp",
                                          "Content-Base": base}, reader_sdp(video, host))

    def _setup(self, camera: PacketCamera, msg: Message, cseq: str) -> bytes:
        transport = msg.header("transport")
        if "RTP/AVP/TCP" not in transport.upper() or self.transport is None:
            return response(461, "Unsupported Transport", cseq)
        if self.camera is None:
            self.camera = camera
            self.releases.append(camera.acquire())
        elif self.camera is not camera:
            return response(459, "Aggregate Operation Not Allowed", cseq)
        channel = 0
        for part in transport.split(";"):
            if part.strip().startswith("interleaved="):
                first = part.split("=", 1)[1].split("-")[0]
                channel = int(first) if first.isdigit() and int(first) < 255 else 0
        if self.reader is None:
            self.reader = Reader(self.transport, channel, internal=self.internal)
        ssrc = f"{camera.track.continuity.ssrc:08X}"
        return response(200, "OK", cseq, {
            "Transport": f"RTP/AVP/TCP;unicast;interleaved={channel}-{channel + 1};ssrc={ssrc}",
            "Session": f"{self.session};timeout=60",
        })

    def _play(self, camera: PacketCamera, msg: Message, cseq: str) -> bytes:
        if self.reader is None or self.camera is not camera:
            return response(455, "Method Not Valid in This State", cseq)
        track = camera.track
        seq, rtptime = track.first_packet()
        parts = urlsplit(msg.url)
        url = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        if not url.endswith(TRACK):
            url += "/" + TRACK
        return response(200, "OK", cseq, {
            "Session": self.session, "Range": "npt=now-",
            "RTP-Info": f"url={url};seq={seq};rtptime={rtptime}",
        })
