"""A camera of the packet core: on-demand pull with idle close and backoff, like
streams/core/stream.py does for the GStreamer core, but all on the event loop."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

from core.secret_files import read_camera_credentials
from streams.config import StreamsConfig
from streams.core.health import RateMeter, StreamEvent, StreamState
from streams.packet.track import PacketTrack
from streams.packet.upstream import PullError, RtspPull
from streams.sources.rtsp import redact

log = logging.getLogger(__name__)

Credentials = Callable[[], tuple[str | None, str | None]]


def credentials(username: str | None, password: str | None,
                credentials_file: Path | None) -> Credentials:
    """The camera's login, read from ``credentials_file`` at every connect when given."""
    if credentials_file is None:
        return lambda: (username, password)

    def read() -> tuple[str | None, str | None]:
        return read_camera_credentials(credentials_file)

    return read


class PacketCamera:
    """One camera's upstream (pulled while readers or ``always_on`` want it) and its track."""

    def __init__(self, camera_id: str, url: str, login: Credentials,
                 settings: StreamsConfig, always_on: bool = False,
                 on_event: Callable[[StreamEvent], None] | None = None) -> None:
        self.camera_id = camera_id
        self.url = url
        self.display_url = redact(url)
        self.login = login
        self.settings = settings
        self.always_on = always_on
        self.track = PacketTrack(camera_id, settings.packet_reader_backlog_kb * 1024,
                                 settings.packet_reader_behind_s)
        self.state = "idle"
        self.last_error: str | None = None
        self.upstream_connects = 0
        self.meter = RateMeter()
        self.on_event = on_event
        self._online = False
        self._leases = 0
        self._last_release = time.monotonic()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def acquire(self) -> Callable[[], None]:
        """Hold the camera pulled; call the returned function to let go (idempotent)."""
        self._leases += 1
        self._wake.set()
        done = False

        def release() -> None:
            nonlocal done
            if not done:
                done = True
                self._leases -= 1
                self._last_release = time.monotonic()
                self._wake.set()

        return release

    def wanted(self) -> bool:
        return self.always_on or self._leases > 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"packet-{self.camera_id}")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for reader in list(self.track.readers):
            reader.transport.close()

    async def _run(self) -> None:
        backoff = self.settings.backoff_initial_s
        while True:
            if not self.wanted():
                if self.state != "failed":  # a broken camera stays visibly failed
                    self._set_state("idle")
                self._wake.clear()
                await self._wake.wait()
                continue
            user, password = self.login()
            self.upstream_connects += 1
            self._set_state("connecting")
            pull = RtspPull(self.url, user, password, self.track,
                            self.settings.connect_timeout_s, self.settings.stall_timeout_s)
            try:
                if await self._pull(pull):
                    backoff = self.settings.backoff_initial_s
                    self._set_state("idle")
                    continue
            except PullError as exc:
                self.last_error = str(exc)
            if self.state == "live":
                backoff = self.settings.backoff_initial_s  # it worked: retry soon
            self._set_state("failed")
            log.warning("%s (packet core): %s; retrying in %.1fs", self.camera_id,
                        self.last_error, backoff)
            await self._backoff(backoff)
            backoff = min(backoff * 2, self.settings.backoff_max_s)

    async def _backoff(self, delay: float) -> None:
        """Wait ``delay`` before the next attempt, or less if nobody wants the camera any
        more (as the GStreamer core's stream does: it then waits idle, still ``failed``)."""
        deadline = time.monotonic() + delay
        while self.wanted() and (left := deadline - time.monotonic()) > 0:
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), left)
            except TimeoutError:
                return

    async def _pull(self, pull: RtspPull) -> bool:
        """Run ``pull`` until it fails (PullError) or idles out (True)."""
        task = asyncio.create_task(pull.run())
        c = self.track.counters
        packets = c.packets
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=0.5)
                if done:
                    task.result()  # raises the PullError
                    raise PullError("camera ended the stream")
                self.meter.observe(c.frames, c.octets)
                if self.state != "live" and c.packets > packets:
                    self.last_error = None
                    self._set_state("live")
                idle = time.monotonic() - self._last_release
                if not self.wanted() and idle >= self.settings.idle_close_s:
                    log.info("%s (packet core): idle, closing", self.camera_id)
                    return True
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _set_state(self, state: str) -> None:
        """Change state; online/offline/idle transitions go to ``on_event`` (as
        streams/core/stream.py sends them for the GStreamer core)."""
        self.state = state
        online = state == "live"
        if online == self._online or state == "connecting":
            return
        self._online = online
        kind = "online" if online else ("idle" if state == "idle" else "offline")
        if self.on_event is None:
            return
        try:
            self.on_event(StreamEvent(self.camera_id, kind, StreamState(state),
                                      self.last_error if kind == "offline" else None))
        except Exception:  # a consumer's bug must not stop the camera's actor
            log.exception("%s (packet core): event handler failed", self.camera_id)

    def health(self) -> dict[str, object]:
        last = self.track.counters.last_packet_at
        fps, bps = self.meter.rates() if self.state == "live" else (0.0, 0.0)
        return {
            **self.track.stats(),
            "state": self.state,
            "fps": round(fps, 2),
            "bitrate_bps": round(bps),
            "error": self.last_error if self.state != "live" else None,
            "upstream_connects": self.upstream_connects,
            "last_packet_age_s": None if last is None else round(time.monotonic() - last, 3),
        }
