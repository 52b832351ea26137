"""The relay: every configured camera as a stream actor, plus the RTSP re-serve.

HTTP (WHEP, snapshots, clips, health, metrics) is in streams/http; the
``cityhub relay`` command (hub/relay_cli.py) runs both in one process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from core.config import CameraConfig
from streams.auth.guard import ViewGuard
from streams.auth.service import derive_service_token
from streams.auth.tokens import PlayGrant, PlayTokenError, verify_play_token
from streams.config import StreamsConfig
from streams.core.health import StreamEvent, StreamState
from streams.core.stream import CameraStream
from streams.gb28181.push import PushTable
from streams.glib_loop import ensure_glib_loop
from streams.playback.rtsp import RecordedMediaFactory
from streams.recording.service import RecordingService
from streams.rtsp.reserve import RtspReserve
from streams.sources import source_for
from streams.webrtc.ice import configure_ice_hosts
from streams.webrtc.whep import WhepSessions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CameraSpec:
    """What the relay needs of a camera (taken from hub.config.CameraConfig)."""

    id: str
    url: str
    username: str | None = None
    password: str | None = None
    always_on: bool = False
    department: str = ""

    @classmethod
    def from_config(cls, cam: CameraConfig) -> CameraSpec:
        return cls(
            id=cam.id,
            url=cam.url.get_secret_value(),
            username=cam.username,
            password=cam.password.get_secret_value() if cam.password else None,
            always_on=cam.always_on,
            department=cam.department,
        )


class Relay:
    def __init__(
        self,
        cameras: Iterable[CameraSpec],
        settings: StreamsConfig,
        play_secret: str,
        clips_dir: Path,
    ) -> None:
        self.settings = settings
        self.play_secret = play_secret
        #: Reads health, metrics and recording state (streams.auth.service).
        self.service_token = (settings.service_token.get_secret_value()
                              if settings.service_token else derive_service_token(play_secret))
        self.guard = ViewGuard(settings.hub_url, self.service_token, settings.access_check_s)
        self._guard_task: asyncio.Task[None] | None = None
        self.clips_dir = clips_dir
        self.specs = {c.id: c for c in cameras}
        self.streams: dict[str, CameraStream] = {}
        self.events: asyncio.Queue[StreamEvent] = asyncio.Queue(1000)
        self.whep = WhepSessions(
            settings.ice_servers, settings.webrtc_max_viewers, settings.connect_timeout_s
        )
        self.fmp4_viewers: dict[str, int] = {}  # camera -> open fMP4 WebSockets
        self.pushes = PushTable(settings.connect_timeout_s)  # GB/T 28181 cascade output
        self.rtsp: RtspReserve | None = None
        self.rtsp_port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.recording = RecordingService(
            settings.recording,
            clips_dir.parent / "recordings",
            {c.id: c.department for c in self.specs.values()},
            self._alarm,
        )

    def authorize(self, camera_id: str, token: str | None, protocol: str) -> PlayGrant | None:
        """The grant for a play request; PlayTokenError if refused (None: tokens not required)."""
        if not self.settings.require_token:
            return None
        return verify_play_token(self.play_secret, token or "", camera_id, protocol=protocol)

    async def admit(self, camera_id: str, token: str | None, protocol: str) -> PlayGrant | None:
        """:meth:`authorize`, then the hub's word that the view may start (streams.auth.guard)."""
        grant = self.authorize(camera_id, token, protocol)
        await self.guard.admit(grant)
        return grant

    def _playback_window(
        self, camera_id: str, token: str | None
    ) -> tuple[float, float] | None | bool:
        """The recorded time a token may play back (None: any); False if refused."""
        try:
            grant = self.authorize(camera_id, token, "playback")
        except PlayTokenError:
            return False
        return grant.window if grant is not None else None

    def _rtsp_allowed(self, camera_id: str, token: str | None) -> PlayGrant | bool:
        """The grant of an RTSP reader (True: tokens not required), False if refused."""
        try:
            grant = self.authorize(camera_id, token, "rtsp")
            self.guard.admit_blocking(grant)
        except PlayTokenError as exc:
            log.info("rtsp %s: refused (%s)", camera_id, exc)
            return False
        return grant if grant is not None else True

    def _emit_threadsafe(self, loop: asyncio.AbstractEventLoop, event: StreamEvent) -> None:
        """A stream's event from its GStreamer thread, handed to the event loop."""
        loop.call_soon_threadsafe(self._emit, event)

    def _emit(self, event: StreamEvent) -> None:
        log.info(
            "camera %s %s%s", event.camera_id, event.kind, f": {event.error}" if event.error else ""
        )
        try:
            self.events.put_nowait(event)
        except asyncio.QueueFull:  # nobody drains: keep the newest
            self.events.get_nowait()
            self.events.put_nowait(event)

    def _alarm(self, kind: str, message: str) -> None:
        """A recording alarm (any thread) as an event for the hub to publish."""
        camera = message.split(":", 1)[0] if kind != "disk_near_full" else ""
        event = StreamEvent(camera, kind, StreamState.LIVE, message)
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._emit, event)

    async def start(self) -> None:
        ensure_glib_loop()
        self._loop = asyncio.get_running_loop()
        configure_ice_hosts(self.settings.ice_hosts)
        loop = asyncio.get_running_loop()
        for spec in self.specs.values():
            try:
                source = source_for(spec.url, spec.username, spec.password, self.settings.transport)
                make = source.make_element
                shown = source.display_url
            except ValueError as exc:  # unsupported scheme: this camera fails, the others run
                message = str(exc)

                def make(message: str = message) -> object:
                    raise RuntimeError(message)

                shown = "(invalid)"
            stream = CameraStream(
                spec.id,
                make,
                self.settings,
                spec.always_on,
                on_event=partial(self._emit_threadsafe, loop),
                display_url=shown,
            )
            self.streams[spec.id] = stream
            stream.start()
        self.rtsp = RtspReserve(
            self.settings.rtsp_host,
            self.settings.rtsp_port,
            check_token=self._rtsp_allowed if self.settings.require_token else None,
            watch=self.guard.watch,
            wait_codec_s=self.settings.connect_timeout_s,
        )
        for stream in self.streams.values():
            self.rtsp.add(stream)
        self.rtsp_port = self.rtsp.start()
        await self.recording.start(self.streams)
        self._guard_task = asyncio.create_task(self.guard.run(), name="view-guard")
        for camera_id, rec in self.recording.recorders.items():
            codec = lambda s=rec.stream: s.codec or s.upstream_codec or "h264"  # noqa: E731
            factory = RecordedMediaFactory(rec.journal, codec, self._playback_window)
            self.rtsp.mounts.add_factory(f"/{camera_id}/recorded", factory)
        log.info(
            "relay: %d cameras, RTSP on %s:%d",
            len(self.streams),
            self.settings.rtsp_host,
            self.rtsp_port,
        )

    async def close(self) -> None:
        if self._guard_task is not None:
            self._guard_task.cancel()
        await self.recording.close()
        await self.pushes.close(self.streams)
        await self.whep.close()
        if self.rtsp:
            self.rtsp.stop()
        await asyncio.gather(*(s.close() for s in self.streams.values()), return_exceptions=True)

    def health(self) -> list[dict[str, object]]:
        out = []
        rtsp = self.rtsp.sessions_per_camera() if self.rtsp else {}
        for stream in self.streams.values():
            h = stream.health()
            h["rtsp_viewers"] = rtsp.get(stream.camera_id, 0)
            h["webrtc_viewers"] = self.whep.count(stream.camera_id)
            h["fmp4_viewers"] = self.fmp4_viewers.get(stream.camera_id, 0)
            out.append(h)
        return out
