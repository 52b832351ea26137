"""The relay: every configured camera as a stream actor, plus the RTSP re-serve.

HTTP (WHEP, snapshots, clips, health, metrics) is in streams/http; the
``cityhub relay`` command (hub/relay_cli.py) runs both in one process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from core.logging import redact
from streams import relay_health
from streams.auth.guard import ViewGuard
from streams.auth.service import derive_service_token
from streams.auth.tokens import PlayGrant, PlayTokenError, verify_play_token
from streams.catalog import StoreCameras
from streams.config import StreamsConfig
from streams.core.health import StreamEvent, StreamState
from streams.core.stream import CameraStream
from streams.core.transcode import PROFILE as TRANSCODE
from streams.core.transcode import SUFFIX as TRANSCODED
from streams.core.transcode import TranscodeStats, transcode_factory
from streams.gb28181.device_playback import DevicePlaybackFactory, channel_of
from streams.gb28181.push import PushTable
from streams.glib_loop import ensure_glib_loop
from streams.packet.camera import PacketCamera, credentials
from streams.packet.server import PacketRtspServer
from streams.playback.rtsp import RecordedMediaFactory
from streams.recording.alarms import AlarmForwarder, alarm
from streams.recording.config import CameraRecording
from streams.recording.recorder import CameraRecorder
from streams.recording.service import RecordingService
from streams.resume import ResumedPulls
from streams.rtsp.reserve import RtspReserve
from streams.sources import element_factory
from streams.spec import CameraSpec
from streams.webrtc.ice import configure_ice_hosts
from streams.webrtc.whep import WhepSessions

log = logging.getLogger(__name__)
LOOPBACK = "127.0.0.1"  #: where the GStreamer re-serve listens behind the packet core
SUB = "~sub"  #: a sub stream's id suffix (health, metrics); RTSP serves it at /{camera}/sub


class Relay:
    def __init__(
        self,
        cameras: Iterable[CameraSpec],
        settings: StreamsConfig,
        play_secret: str,
        clips_dir: Path,
        verify_secrets: Sequence[str] = (),
        owns: Callable[[str], bool] | None = None,
        resume_file: Path | None = None,
    ) -> None:
        self.settings = settings
        #: Streams watched when the relay last ran, pulled again as it starts (streams.resume).
        self.resume = None if resume_file is None else ResumedPulls(
            resume_file, lambda: {"main": self.streams, "sub": self.subs},
            settings.resume_hold_s)
        self._resume_task: asyncio.Task[None] | None = None
        self.play_secret = play_secret
        #: Play tokens verify with these: the signing key, then keys accepted in a rotation.
        self.play_secrets = tuple(dict.fromkeys([play_secret, *verify_secrets]))
        #: Read health, metrics and recording state (streams.auth.service).
        self.service_tokens: tuple[str, ...] = (
            (settings.service_token.get_secret_value(),) if settings.service_token
            else tuple(derive_service_token(s) for s in self.play_secrets))
        #: The relay's own credential towards the hub (the current key's token).
        self.guard = ViewGuard(settings.hub_url, self.service_tokens[0], settings.access_check_s)
        self._guard_task: asyncio.Task[None] | None = None
        self.clips_dir = clips_dir
        self.specs = {c.id: c for c in cameras}
        #: Cameras of the hub's store beside the config's (streams.catalog).
        self.catalog = StoreCameras(self, settings.hub_url, self.service_tokens[0],
                                    settings.camera_sync_s, owns)
        self._catalog_task: asyncio.Task[None] | None = None
        self.alarms = AlarmForwarder(settings.hub_url, self.service_tokens[0],
                                     settings.recording.alarm_repeat_s)
        self._alarms_task: asyncio.Task[None] | None = None
        self.streams: dict[str, CameraStream] = {}
        self.subs: dict[str, CameraStream] = {}  #: sub streams (CameraSpec.sub_url) by camera
        #: Cameras the hub was last told are offline (a recovery is then worth an event).
        self.offline_sent: set[str] = set()
        #: The ``h264`` profile by camera: the main stream transcoded, on demand.
        self.transcodes: dict[str, CameraStream] = {}
        self.transcode_stats: dict[str, TranscodeStats] = {}
        self.whep = WhepSessions(
            settings.ice_servers, settings.webrtc_max_viewers, settings.connect_timeout_s
        )
        self.fmp4_viewers: dict[str, int] = {}  # camera -> open fMP4 WebSockets
        self.device_playbacks = 0  # open /playback/{camera}/device WebSockets
        self.pushes = PushTable(settings.connect_timeout_s)  # GB/T 28181 cascade output
        self.rtsp: RtspReserve | None = None
        self.rtsp_port: int | None = None
        #: The packet core (settings.core == "packet"): its server and cameras by stream id.
        self.packet: PacketRtspServer | None = None
        self.packet_cameras: dict[str, PacketCamera] = {}
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
        return verify_play_token(self.play_secrets, token or "", camera_id, protocol=protocol)

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

    async def _rtsp_admit(self, camera_id: str, token: str | None) -> PlayGrant | bool:
        """:meth:`_rtsp_allowed` on the event loop (the packet core's readers)."""
        try:
            grant = await self.admit(camera_id, token, "rtsp")
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
        self._health_to_hub(event)

    def _health_to_hub(self, event: StreamEvent) -> None:
        """A camera's failure, and its recovery after one, as events for the hub (the alarm
        path): an on-demand camera opening for a viewer, or closing unwatched, is not news."""
        camera = event.camera_id
        if camera.endswith(SUB) or camera not in self.streams:
            return
        if event.kind == "offline":
            self.offline_sent.add(camera)
        elif event.kind == "online" and camera in self.offline_sent:
            self.offline_sent.discard(camera)
        else:
            return
        message = f"{camera}: {redact(event.error)}" if event.error else f"{camera}: {event.kind}"
        self.alarms.submit(alarm(f"camera_{event.kind}", message, []), transition=True)

    def _alarm(self, kind: str, message: str) -> None:
        """A recording alarm (any thread): an event for the hub (streams.recording.alarms)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._raise_alarm, kind, message)

    def _raise_alarm(self, kind: str, message: str) -> None:
        body = alarm(kind, message, sorted(self.recording.recorders))
        self._emit(StreamEvent(body.get("camera", ""), kind, StreamState.LIVE, message))
        self.alarms.submit(body)

    def stream(self, camera_id: str, profile: str = "main") -> CameraStream | None:
        """The camera's main stream, or its sub stream where it has one (else the main), or
        ``h264``: the main transcoded to H.264 (the main itself when it is H.264 already)."""
        if profile == "sub" and camera_id in self.subs:
            return self.subs[camera_id]
        main = self.streams.get(camera_id)
        if profile == TRANSCODE and main is not None and main.upstream_codec != "h264":
            return self.transcodes.get(camera_id, main)
        return main

    def _start_camera(self, spec: CameraSpec) -> None:
        self.streams[spec.id] = main = self._stream(spec)
        if self.rtsp is not None:
            self.rtsp.add(main)
            if (channel := channel_of(spec.url)) is not None:  # its device's recordings
                self.rtsp.mounts.add_factory(f"/{spec.id}/device", DevicePlaybackFactory(
                    spec.id, channel, self._playback_window))
        if spec.sub_url:  # one more upstream, on demand like the main one, at /{id}/sub
            self.subs[spec.id] = sub = self._stream(spec, sub=True)
            if self.rtsp is not None:
                self.rtsp.add(sub, f"/{spec.id}/sub")
        self._start_transcode(main)

    def _start_transcode(self, main: CameraStream) -> None:
        """The camera's ``h264`` profile: idle (a task, no pipeline) until someone asks."""
        stats = self.transcode_stats[main.camera_id] = TranscodeStats()
        stream = CameraStream(f"{main.camera_id}{TRANSCODED}", transcode_factory(main, stats),
                              self.settings, display_url=main.display_url)
        stream.start()
        self.transcodes[main.camera_id] = stream
        if self.rtsp is not None:
            self.rtsp.add(stream, f"/{main.camera_id}/{TRANSCODE}")

    def _packet_camera(self, spec: CameraSpec, sub: bool) -> PacketCamera | None:
        """The packet core's camera for ``spec`` (rtsp:// only; else None), mounted."""
        url = spec.sub_url if sub and spec.sub_url else spec.url
        if self.packet is None or not url.lower().startswith("rtsp://"):
            return None
        stream_id = f"{spec.id}{SUB}" if sub else spec.id
        camera = PacketCamera(
            stream_id, url, credentials(spec.username, spec.password, spec.credentials_file),
            self.settings, spec.always_on, on_event=self._emit)
        camera.start()
        self.packet_cameras[stream_id] = camera
        self.packet.add(camera, f"/{spec.id}/sub" if sub else f"/{spec.id}")
        return camera

    def _through_packet(self, camera_id: str) -> str:
        """The loopback URL GStreamer outputs pull a packet-core camera from."""
        assert self.packet is not None
        host = self.settings.rtsp_host
        host = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
        host = f"[{host}]" if ":" in host else host
        path = camera_id.replace(SUB, "/sub")
        return f"rtsp://{host}:{self.packet.port}/{path}?token={self.packet.internal_token}"

    def _stream(self, spec: CameraSpec, sub: bool = False) -> CameraStream:
        """A started stream actor for ``spec`` (a bad URL makes a camera that fails alone)."""
        assert self._loop is not None
        url = spec.sub_url if sub and spec.sub_url else spec.url
        packet = self._packet_camera(spec, sub)
        try:
            if packet is not None:  # one camera connection: GStreamer outputs pull through it
                make = self._loopback_source(packet.camera_id)
                shown = packet.display_url
            else:
                make, shown = element_factory(url, spec.username, spec.password,
                                              spec.credentials_file, self.settings.transport)
        except ValueError as exc:  # unsupported scheme: this camera fails, the others run
            message = str(exc)

            def make(message: str = message) -> object:
                raise RuntimeError(message)

            shown = "(invalid)"
        stream = CameraStream(
            f"{spec.id}{SUB}" if sub else spec.id,
            make,
            self.settings,
            spec.always_on,
            # a packet-core camera's events come from its one upstream, not the loopback
            on_event=None if packet else partial(self._emit_threadsafe, self._loop),
            display_url=shown,
        )
        stream.start()
        return stream

    def _loopback_source(self, camera_id: str) -> Callable[[], object]:
        def make() -> object:
            return element_factory(self._through_packet(camera_id), transport="tcp")[0]()

        return make

    def add_camera(self, spec: CameraSpec) -> None:
        """Pull a camera the relay started without (from the hub's store: streams.catalog)."""
        if spec.id in self.streams:
            return
        self.specs[spec.id] = spec
        self._start_camera(spec)
        log.info("camera %s added", spec.id)

    def _mount_recorded(self, rec: CameraRecorder) -> None:
        """RTSP playback of the camera's recordings at /{camera}/recorded."""
        assert self.rtsp is not None
        codec = lambda s=rec.stream: s.codec or s.upstream_codec or "h264"  # noqa: E731
        factory = RecordedMediaFactory(rec.journal, codec, self._playback_window)
        self.rtsp.mounts.add_factory(f"/{rec.camera_id}/recorded", factory)

    async def set_recording(self, policies: dict[str, dict[str, Any] | None]) -> None:
        """Recording policies from the hub's store (streams.catalog), applied to the cameras
        pulled here (none: ``off``); a bad policy is logged and leaves the camera as it was."""
        for camera_id, raw in policies.items():
            stream = self.streams.get(camera_id)
            if stream is None:
                continue
            try:
                policy = CameraRecording.model_validate(raw or {"mode": "off"})
            except ValidationError as exc:
                log.warning("camera %s: recording policy refused: %s", camera_id,
                            "; ".join(e["msg"] for e in exc.errors()))
                continue
            department = self.specs[camera_id].department if camera_id in self.specs else ""
            opened = await self.recording.set_policy(stream, policy, department)
            if opened is not None and self.rtsp is not None:
                self._mount_recorded(opened)

    async def remove_camera(self, camera_id: str) -> None:
        """Stop pulling a camera (gone from the store, or changed: added again after)."""
        if camera_id in self.recording.recorders:
            await self.recording.drop(camera_id)  # its open segment closed and indexed first
            if self.rtsp is not None:
                self.rtsp.remove(f"/{camera_id}/recorded")
        self.specs.pop(camera_id, None)
        self.transcode_stats.pop(camera_id, None)
        gone = [s for s in (self.transcodes.pop(camera_id, None), self.streams.pop(camera_id, None),
                            self.subs.pop(camera_id, None)) if s is not None]
        if self.rtsp is not None:
            self.rtsp.remove(f"/{camera_id}")
            self.rtsp.remove(f"/{camera_id}/sub")
            self.rtsp.remove(f"/{camera_id}/device")
            self.rtsp.remove(f"/{camera_id}/{TRANSCODE}")
        for stream in gone:
            await stream.close()
        if self.packet is not None:
            self.packet.remove(f"/{camera_id}")
            self.packet.remove(f"/{camera_id}/sub")
        for key in (camera_id, f"{camera_id}{SUB}"):
            packet = self.packet_cameras.pop(key, None)
            if packet is not None:
                await packet.close()
        if gone:
            log.info("camera %s removed", camera_id)

    async def start(self) -> None:
        ensure_glib_loop()
        self._loop = asyncio.get_running_loop()
        configure_ice_hosts(self.settings.ice_hosts)
        check = self._rtsp_allowed if self.settings.require_token else None
        packet_core = self.settings.core == "packet"
        if packet_core:  # the packet core owns the RTSP port; GStreamer's re-serve is behind it
            self.packet = PacketRtspServer(self.settings.rtsp_host, self.settings.rtsp_port,
                                           self._rtsp_admit if check else None, self.guard.watch,
                                           self.settings.connect_timeout_s)
            self.rtsp_port = self.packet.port = await self.packet.start()
        self.rtsp = RtspReserve(  # behind the packet core: on loopback, readers spliced to it
            LOOPBACK if packet_core else self.settings.rtsp_host,
            0 if packet_core else self.settings.rtsp_port,
            check_token=check,
            watch=self.guard.watch,
            wait_codec_s=self.settings.connect_timeout_s,
        )
        for spec in self.specs.values():
            self._start_camera(spec)
        if self.resume is not None:  # connecting while the rest starts
            self.resume.resume()
            self._resume_task = asyncio.create_task(self.resume.run(), name="resume-file")
        gst_port = self.rtsp.start()
        if self.packet is not None:
            self.packet.fallback = (LOOPBACK, gst_port)
        else:
            self.rtsp_port = gst_port
        await self.recording.start(self.streams)
        self._guard_task = asyncio.create_task(self.guard.run(), name="view-guard")
        self._catalog_task = asyncio.create_task(self.catalog.run(), name="store-cameras")
        self._alarms_task = asyncio.create_task(self.alarms.run(), name="recording-alarms")
        for rec in self.recording.recorders.values():
            self._mount_recorded(rec)
        log.info(
            "relay: %d cameras, RTSP on %s:%d",
            len(self.streams),
            self.settings.rtsp_host,
            self.rtsp_port,
        )

    async def close(self) -> None:
        for task in (self._resume_task, self._guard_task, self._catalog_task, self._alarms_task):
            if task is not None:
                task.cancel()
        await self.guard.aclose()
        await self.recording.close()
        await self.pushes.close(self.streams)
        await self.whep.close()
        if self.rtsp:
            self.rtsp.stop()
        if self.packet is not None:
            await self.packet.stop()
        await asyncio.gather(*(c.close() for c in self.packet_cameras.values()),
                             return_exceptions=True)
        await asyncio.gather(*(s.close() for s in self.transcodes.values()), return_exceptions=True)
        await asyncio.gather(*(s.close() for s in (*self.streams.values(), *self.subs.values())),
                             return_exceptions=True)

    def health(self) -> list[dict[str, object]]:
        """Each stream's health, with its viewers per transport (streams/relay_health.py)."""
        return relay_health.report(self)
