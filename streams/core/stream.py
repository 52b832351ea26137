"""One camera stream: an actor on the event loop owning one upstream connection.

It connects when something consumes it (a lease) or when ``always_on``,
closes after ``idle_close_s`` without consumers, reconnects with exponential
backoff while wanted, and keeps consumers attached across reconnects: they
simply receive the next keyframe (and the GOP cache) when the camera returns.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.periodic import until_tick
from streams.config import StreamsConfig
from streams.core.fanout import Fanout
from streams.core.health import RateMeter, StreamEvent, StreamState
from streams.core.media import AccessUnit
from streams.core.ring import RingSizer
from streams.core.upstream import UpstreamSession

log = logging.getLogger(__name__)

#: How often a live stream's actor samples its counters and checks for stalls and idling
#: (a failure wakes it at once). Every actor ticks on the same grid of the event loop's
#: clock (``core.periodic.until_tick``), so a relay of many cameras wakes once a tick.
WATCH_TICK_S = 1.0


@dataclass
class Lease:
    """A consumer's hold on a stream; release it when done (idempotent)."""

    stream: CameraStream
    kind: str
    released: bool = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.stream._release(self)


class CameraStream:
    def __init__(
        self,
        camera_id: str,
        make_source: Callable[[], Any],
        settings: StreamsConfig,
        always_on: bool = False,
        on_event: Callable[[StreamEvent], None] | None = None,
        display_url: str = "",
    ) -> None:
        self.camera_id = camera_id
        self.make_source = make_source
        self.settings = settings
        self.always_on = always_on
        self.on_event = on_event
        self.display_url = display_url
        self.fanout = Fanout(
            prebuffer_s=settings.prebuffer_s,
            refresh=self._drain,
            on_count=lambda _n: self._update_live(),
        )
        self._proxysink_listeners: list[Callable[[Any], None]] = []
        self._session_listeners: list[Callable[[UpstreamSession], None]] = []
        self.state = StreamState.IDLE
        self.codec: str | None = None
        self.last_error: str | None = None
        self.upstream_connects = 0
        self.meter = RateMeter()
        self.ring = RingSizer(settings.prebuffer_s)
        self._leases: dict[int, Lease] = {}
        self._last_release = time.monotonic()
        self._session: UpstreamSession | None = None
        self._t0 = time.monotonic()
        self._pts_map: tuple[float, float] | None = None  # (first buffer pts, media time then)
        self._last_media_time = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._first_frame = asyncio.Event()
        self._failed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._online = False
        self._live_since: float | None = None  # monotonic time of this session's first frame

    # -- consumers ---------------------------------------------------------
    def acquire(self, kind: str) -> Lease:
        """Hold the stream connected (viewer, recorder, analytics). Thread-safe."""
        lease = Lease(self, kind)
        self._leases[id(lease)] = lease
        self._poke()
        return lease

    def _release(self, lease: Lease) -> None:
        self._leases.pop(id(lease), None)
        self._last_release = time.monotonic()
        self._poke()

    @property
    def lease_count(self) -> int:
        return len(self._leases)

    def _poke(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    def wanted(self) -> bool:
        return self.always_on or bool(self._leases)

    async def wait_live(self, timeout: float) -> bool:
        """True once the stream delivers frames (within ``timeout``)."""
        if self.state == StreamState.LIVE:
            return True
        try:
            await asyncio.wait_for(self._first_frame.wait(), timeout)
        except TimeoutError:
            return False
        return True

    # -- actor -------------------------------------------------------------
    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name=f"stream-{self.camera_id}")

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self._disconnect()

    async def _run(self) -> None:
        backoff = self.settings.backoff_initial_s
        while True:
            if not self.wanted():
                if self.state != StreamState.FAILED:  # a broken camera stays visibly failed
                    self._set_state(StreamState.IDLE, None)
                await self._wait_wake(None)
                continue
            ok = await self._connect()
            if ok:
                backoff = self.settings.backoff_initial_s
                reason = await self._watch()
                await self._disconnect()
                if reason is None:  # idle close, not a fault
                    self._set_state(StreamState.IDLE, None)
                    continue
                self._set_state(StreamState.FAILED, reason)
            else:
                await self._disconnect()
            if not self.wanted():
                continue
            log.info("%s: reconnecting in %.1fs", self.camera_id, backoff)
            await self._wait_wake(backoff, until=lambda: not self.wanted())
            backoff = min(backoff * 2, self.settings.backoff_max_s)

    async def _wait_wake(
        self, timeout: float | None, until: Callable[[], bool] | None = None
    ) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._wake.clear()
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return
            try:
                await asyncio.wait_for(self._wake.wait(), remaining)
            except TimeoutError:
                return
            if until is None or until():
                return

    async def _connect(self) -> bool:
        self._set_state(StreamState.CONNECTING, self.last_error)
        self._live_since = None
        self._first_frame.clear()
        self._failed.clear()
        self._pts_map = None
        self.ring.reset()
        self.meter.reset()
        self.upstream_connects += 1
        try:
            session = UpstreamSession(
                self.make_source,
                self._on_unit,
                self._on_error,
                self.camera_id,
                ring_size=self.ring.frames(),
                on_linked=self._on_linked,
            )
            self._session = session
            session.start()
        except Exception as exc:  # bad URL, missing plugin: a clear state, not a crash
            self._set_state(StreamState.FAILED, f"cannot start upstream: {exc}")
            return False
        first = asyncio.ensure_future(self._first_frame.wait())
        failed = asyncio.ensure_future(self._failed.wait())
        done, pending = await asyncio.wait(
            {first, failed},
            timeout=self.settings.connect_timeout_s,
            return_when=asyncio.FIRST_COMPLETED,
        )
        for fut in pending:
            fut.cancel()
        if first in done and not self._failed.is_set():
            self._live_since = time.monotonic()
            self.last_error = None
            self._set_state(StreamState.LIVE, None)
            self._update_live()
            return True
        reason = (
            self.last_error
            if self._failed.is_set()
            else (f"no video within {self.settings.connect_timeout_s:g}s of connecting")
        )
        self._set_state(StreamState.FAILED, reason)
        return False

    async def _watch(self) -> str | None:
        """Run while live; return why it ended (None: idle close).

        One waiter on the failure for the whole watch: a tick is a timer and a future
        (``wait_for`` would make, cancel and reap a task every tick, for every camera)."""
        failed = asyncio.ensure_future(self._failed.wait())
        try:
            return await self._watch_ticks(failed)
        finally:
            failed.cancel()

    async def _watch_ticks(self, failed: asyncio.Future[Any]) -> str | None:
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            await asyncio.wait((failed,), timeout=until_tick(loop.time(), WATCH_TICK_S))
            if failed.done():
                return self.last_error or "upstream failed"
            now = time.monotonic()
            session = self._session
            if session is not None:  # counted in C: health costs nothing per frame
                self.meter.observe(*session.counters(), now=now)
            last = self.meter.last_at or now
            if now - last > self.settings.stall_timeout_s:
                return f"no frame for {self.settings.stall_timeout_s:g}s"
            if not self.wanted() and now - self._last_release >= self.settings.idle_close_s:
                log.info("%s: idle for %.1fs, closing", self.camera_id, self.settings.idle_close_s)
                return None

    async def _disconnect(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await asyncio.get_running_loop().run_in_executor(None, session.stop)

    # -- the C hot path (RTSP via proxysink) and Python's share of the frames ----
    @property
    def proxysink(self) -> Any:
        """The current upstream session's proxysink (RTSP media pull from it), or None."""
        session = self._session
        return session.proxysink if session is not None else None

    @property
    def upstream_codec(self) -> str | None:
        """The codec as soon as the camera's SDP is known (before its first frame), else the
        last one seen: the RTSP media attaches early enough to get the first keyframe."""
        session = self._session
        return (session.codec if session is not None else None) or self.codec

    def add_proxysink_listener(self, listener: Callable[[Any], None]) -> None:
        """``listener(proxysink)`` on every new upstream session (called on a GStreamer thread)."""
        self._proxysink_listeners.append(listener)

    def add_session_listener(self, listener: Callable[[UpstreamSession], None]) -> None:
        """``listener(session)`` once each new upstream session is linked (GStreamer thread),
        before its first frame: C branches (recording) attach to ``session.tee`` there."""
        self._session_listeners.append(listener)

    def remove_session_listener(self, listener: Callable[[UpstreamSession], None]) -> None:
        """Stop calling ``listener`` on new sessions (a recorder dropped from a running relay)."""
        if listener in self._session_listeners:
            self._session_listeners.remove(listener)

    def _on_linked(self, session: UpstreamSession) -> None:
        for hook in list(self._session_listeners):
            try:
                hook(session)
            except Exception:
                log.exception("%s: session listener failed", self.camera_id)
        for listener in list(self._proxysink_listeners):
            try:
                listener(session.proxysink)
            except Exception:
                log.exception("%s: proxysink listener failed", self.camera_id)

    def _update_live(self) -> None:
        """Per-frame hand-over while Python consumers watch, or while the first frames are
        awaited (the first one, and two keyframes to size the ring); else frames wait in the
        ring until someone needs them (``_drain``)."""
        session = self._session
        if session is not None:
            session.set_ring_size(self.ring.frames())
            session.set_live(
                self.fanout.consumer_count > 0
                or not self._first_frame.is_set()
                or not self.ring.learned
            )

    def _drain(self) -> None:
        session = self._session
        if session is not None:
            session.drain()

    # -- GStreamer threads ---------------------------------------------------
    def _on_unit(self, data: bytes, pts: float | None, keyframe: bool, codec: str) -> None:
        now = time.monotonic() - self._t0
        if self._pts_map is None:
            if not keyframe:
                return  # start every session (and every consumer) on a keyframe
            self._pts_map = (
                pts if pts is not None else 0.0,
                max(now, self._last_media_time + 0.04),
            )
            self.fanout.clear()
            self.codec = codec
        if pts is None:  # no timestamp from the camera: go by arrival, never backwards
            media_time = max(self._last_media_time + 1e-3, now)
        else:
            media_time = self._pts_map[1] + (pts - self._pts_map[0])
        self._last_media_time = media_time
        if self.ring.observe(keyframe, pts) and self._loop is not None:
            self._loop.call_soon_threadsafe(self._update_live)
        self.fanout.publish(AccessUnit(data, media_time, keyframe, codec))
        if not self._first_frame.is_set() and self._loop is not None:
            self._loop.call_soon_threadsafe(self._first_frame.set)

    def _on_error(self, message: str) -> None:
        self.last_error = message
        log.warning("%s: %s", self.camera_id, message)
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._failed.set)

    # -- state -----------------------------------------------------------------
    def _set_state(self, state: StreamState, error: str | None) -> None:
        self.state = state
        if error is not None:
            self.last_error = error
        online = state == StreamState.LIVE
        if online == self._online or state == StreamState.CONNECTING:
            return
        self._online = online
        # Going idle (nobody watches an on-demand camera) is not the camera's fault.
        kind = "online" if online else ("idle" if state == StreamState.IDLE else "offline")
        event = StreamEvent(
            self.camera_id, kind, state, self.last_error if kind == "offline" else None
        )
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:
                log.exception("%s: event handler failed", self.camera_id)

    def health(self) -> dict[str, Any]:
        fps, bps = self.meter.rates() if self.state == StreamState.LIVE else (0.0, 0.0)
        last = self.meter.last_at
        return {
            "camera_id": self.camera_id,
            "state": self.state.value,
            "codec": self.codec,
            "fps": round(fps, 2),
            "bitrate_bps": round(bps),
            "last_frame_age_s": None if last is None else round(time.monotonic() - last, 3),
            "viewers": self.fanout.consumer_count,
            "leases": self.lease_count,
            "upstream_connects": self.upstream_connects,
            "buffered_s": self._buffered_s(fps),
            "always_on": self.always_on,
            "error": self.last_error if self.state != StreamState.LIVE else None,
        }

    def _buffered_s(self, fps: float) -> float:
        """Seconds of pre-event buffer a clip would get now, up to ``prebuffer_s``.

        Told without pulling the frames waiting in C: the buffer has everything since this
        session's first frame (handed over live until the ring is sized), and no more than
        the sized ring holds at the current frame rate.
        """
        if self.state != StreamState.LIVE or self._live_since is None:
            return 0.0
        held = min(self.settings.prebuffer_s, time.monotonic() - self._live_since)
        if self.ring.learned and fps > 0:
            held = min(held, self.ring.frames() / fps)
        return round(held, 2)
