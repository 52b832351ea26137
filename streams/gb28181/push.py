"""Push a relayed camera as PS over RTP to an address (GB/T 28181 cascade output).

A push holds a lease on the camera's stream (it is pulled while pushed), subscribes to
the fan-out (starting on the GOP cache's keyframe) and sends every access unit through
``PsRtpSender``: UDP, TCP connecting to the receiver, or TCP listening for it (RFC 4571
framing), without re-encoding. It ends when stopped, or when the TCP receiver goes away.
A receiver that cannot keep up is skipped to the next keyframe instead of queueing.
A recorded push (``start_recorded``, GB/T 28181 Playback) sends a window of the camera's
recording instead (``replay.py``) and stays listed, ended, until stopped.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, field

from streams.core.media import AccessUnit
from streams.core.stream import CameraStream, Lease
from streams.gb28181.replay import ReplayControl, send_recorded
from streams.gb28181.sender import PsRtpSender
from streams.recording.journal import Segment

log = logging.getLogger(__name__)
MODES = ("udp", "tcp-connect", "tcp-listen")
MAX_BACKLOG = 100  #: access units queued before the push skips to the next keyframe


class PushError(RuntimeError):
    pass


@dataclass
class Push:
    id: str
    camera_id: str
    mode: str
    target: str
    sender: PsRtpSender
    lease: Lease | None  #: live pushes hold the camera's stream; recorded ones do not
    port: int = 0  #: our media port: the UDP source, or the TCP listener
    skipped: int = 0
    ended: str | None = None
    _queue: asyncio.Queue[AccessUnit] = field(default_factory=asyncio.Queue)
    _task: asyncio.Task[None] | None = None
    _server: asyncio.Server | None = None
    _cid: int | None = None
    recorded: tuple[float, float] | None = None  #: the window of recording sent
    control: ReplayControl | None = None  #: recorded pushes: pause, speed, seek

    def describe(self) -> dict[str, object]:
        steer = ({"paused": self.control.paused, "scale": self.control.scale}
                 if self.control else {})
        return {"id": self.id, "camera_id": self.camera_id, "mode": self.mode,
                "target": self.target, "port": self.port, "frames": self.sender.sent_frames,
                "skipped": self.skipped, "ended": self.ended,
                "recorded": list(self.recorded) if self.recorded else None, **steer}


class PushTable:
    def __init__(self, wait_live_s: float = 10.0) -> None:
        self.wait_live_s = wait_live_s
        self.pushes: dict[str, Push] = {}

    async def start(self, stream: CameraStream, host: str, port: int, mode: str, ssrc: int,
                    bind_host: str = "0.0.0.0") -> Push:
        if mode not in MODES:
            raise PushError(f"transport must be one of {', '.join(MODES)}")
        lease = stream.acquire("gb28181-push")
        try:
            if not await stream.wait_live(self.wait_live_s) or stream.codec is None:
                raise PushError(f"camera not available: {stream.last_error or 'no video'}")
            push = Push(secrets.token_hex(8), stream.camera_id, mode, f"{host}:{port}",
                        PsRtpSender(ssrc & 0xFFFFFFFF, stream.codec), lease)
            await self._connect(push, host, port, bind_host)
        except (OSError, PushError) as exc:
            lease.release()
            raise PushError(str(exc)) from None
        loop = asyncio.get_running_loop()

        def consume(au: AccessUnit) -> None:  # GStreamer thread (or here, for the GOP cache)
            loop.call_soon_threadsafe(push._queue.put_nowait, au)

        push._cid = stream.fanout.subscribe(consume)
        push._task = asyncio.create_task(self._send(push, stream))
        self.pushes[push.id] = push
        log.info("push %s: %s -> %s (%s, ssrc %d)", push.id, stream.camera_id, push.target, mode,
                 ssrc)
        return push

    async def start_recorded(self, camera_id: str, segments: list[Segment], codec: str,
                             host: str, port: int, mode: str, ssrc: int,
                             window: tuple[float, float], bind_host: str = "0.0.0.0") -> Push:
        """Send ``window`` (wall time) of a camera's recording at 1x."""
        if mode not in MODES:
            raise PushError(f"transport must be one of {', '.join(MODES)}")
        push = Push(secrets.token_hex(8), camera_id, mode, f"{host}:{port}",
                    PsRtpSender(ssrc & 0xFFFFFFFF, codec), None, recorded=window,
                    control=ReplayControl())
        try:
            await self._connect(push, host, port, bind_host)
        except OSError as exc:
            raise PushError(str(exc)) from None
        push._task = asyncio.create_task(self._send_recorded(push, segments, codec, window))
        self.pushes[push.id] = push
        log.info("push %s: %s recorded %.0f..%.0f -> %s (%s, ssrc %d)", push.id, camera_id,
                 window[0], window[1], push.target, mode, ssrc)
        return push

    async def _send_recorded(self, push: Push, segments: list[Segment], codec: str,
                             window: tuple[float, float]) -> None:
        try:
            if push.mode == "tcp-listen":
                for _ in range(100):  # the receiver connects once it has our answer
                    if push.sender.connected:
                        break
                    await asyncio.sleep(0.1)
            push.ended = await send_recorded(push.sender, segments, codec, *window,
                                             push.control)
        except (ConnectionError, OSError) as exc:
            push.ended = f"receiver gone: {exc}"
        finally:
            log.info("push %s: ended: %s", push.id, push.ended)
            self._release(push, None)

    async def _connect(self, push: Push, host: str, port: int, bind_host: str) -> None:
        if push.mode == "udp":
            push.sender.udp(host, port)
            push.port = push.sender.local_port
        elif push.mode == "tcp-connect":
            await asyncio.wait_for(push.sender.tcp_connect(host, port), 5.0)
            push.port = push.sender.local_port
        else:
            async def accepted(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
                if push.sender.connected:
                    w.close()  # one receiver per push
                else:
                    push.sender.tcp_accepted(w)
            push._server = await asyncio.start_server(accepted, bind_host, 0)
            push.port = push._server.sockets[0].getsockname()[1]

    async def _send(self, push: Push, stream: CameraStream) -> None:
        need_key = True
        try:
            while True:
                au = await push._queue.get()
                if push._queue.qsize() > MAX_BACKLOG:
                    need_key = True
                if need_key and not au.keyframe or not push.sender.connected:
                    push.skipped += 1
                    continue
                need_key = False
                if au.codec != push.sender.codec:
                    push.ended = f"camera changed codec to {au.codec}"
                    break
                await push.sender.send(au.data, int(au.pts * 90000) & 0xFFFFFFFF)
        except (ConnectionError, OSError) as exc:
            push.ended = f"receiver gone: {exc}"
        finally:
            if push.ended:
                log.info("push %s: ended: %s", push.id, push.ended)
                self._release(push, stream)

    def control(self, push_id: str, method: str, scale: float | None, npt: float | None
                ) -> Push:
        """Steer a recorded push (MANSRTSP from the upper); PushError when there is none."""
        push = self.pushes.get(push_id)
        if push is None or push.control is None or push.ended is not None:
            raise PushError(f"no recorded push {push_id!r} is sending")
        push.control.apply(method, scale, npt)
        log.info("push %s: %s%s%s", push_id, method, f" scale {scale:g}" if scale else "",
                 f" from {npt:g} s" if npt is not None else "")
        return push

    def _release(self, push: Push, stream: CameraStream | None) -> None:
        if push._cid is not None and stream is not None:
            stream.fanout.unsubscribe(push._cid)
            push._cid = None
        if push._server is not None:
            push._server.close()
        push.sender.close()
        if push.lease is not None:
            push.lease.release()
            push.lease = None

    async def stop(self, push_id: str, streams: dict[str, CameraStream]) -> bool:
        push = self.pushes.pop(push_id, None)
        if push is None:
            return False
        push.ended = push.ended or "stopped"
        if push._task is not None:
            push._task.cancel()
            try:
                await push._task
            except asyncio.CancelledError:
                pass
        self._release(push, streams.get(push.camera_id))
        return True

    async def close(self, streams: dict[str, CameraStream]) -> None:
        for push_id in list(self.pushes):
            await self.stop(push_id, streams)
