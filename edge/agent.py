"""The edge agent: cameras -> analytics -> outbox -> MQTT, plus listener, heartbeat, config push.

Everything an edge box produces is first committed to the outbox (SQLite WAL)
and only then published; see edge/README.md for the delivery guarantees.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Generator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import uvicorn

from adapters.model import Event, Reading, Severity
from core import sdnotify
from core.logging import uvicorn_log_config
from core.model import SourceSystem
from core.net import free_port
from core.periodic import every
from core.topics import events_topic, media_topic, readings_topic
from edge.analytics import CameraAnalytics
from edge.clips import ClipCutter
from edge.config import ConfigError, EdgeCameraConfig, EdgeConfig, parse_push
from edge.discovery import DiscoveryTask
from edge.evidence import SnapshotStore, detection_event, snapshot_ref
from edge.frames import FrameDecoder, camera_stream
from edge.health import health_report
from edge.listener import build_app
from edge.outbox import Message, Outbox
from edge.publisher import Publisher
from edge.push_auth import PushAuth
from edge.uplink import Uplink

log = logging.getLogger(__name__)


class _ListenerServer(uvicorn.Server):
    """The push listener's server: signals stay with the agent, which stops it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield



@dataclass
class _Camera:
    config: EdgeCameraConfig
    analytics: CameraAnalytics
    stream: Any  # streams.core.stream.CameraStream
    decoder: Any  # edge.frames.FrameDecoder
    lease: Any


class EdgeAgent:
    def __init__(self, config: EdgeConfig) -> None:
        self.config = config
        self.state_dir = Path(config.state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.pushed_path = self.state_dir / "pushed-config.json"
        self.config_version: str | None = None
        self.cameras: dict[str, _Camera] = {}
        self.started = time.monotonic()
        self.outbox = Outbox(self.state_dir / "outbox.sqlite3", config.outbox)
        port = config.listener.port
        if config.listener.enabled and port == 0:

            port = free_port(config.listener.host)
        self.listener_port = port
        base = config.listener.public_url or f"http://{config.listener.host}:{port}"
        self.snapshots = SnapshotStore(self.state_dir / "snapshots", base)
        self.clips = ClipCutter(config, self.state_dir / "clips", base, self.submit)
        self.push_auth = PushAuth(config)
        self.discovery = DiscoveryTask(config, self._put_discovered)
        self._load_pushed()

    # -- producing -------------------------------------------------------------

    def submit(
        self,
        events: list[Event],
        readings: list[Reading] | None = None,
        media: list[tuple[str, bytes]] | None = None,
    ) -> None:
        """Commit events (evidence), the media they reference ((sha256, bytes): evidence,
        ahead of the events) and readings (telemetry) to the outbox. Thread-safe."""

        dept, site = self.config.site.department, self.config.site.id
        msgs = []
        uplink = self.config.uplink
        if uplink.upload_media:
            msgs += [
                Message(media_topic(dept, site, sha), data, "")
                for sha, data in media or []
                if len(data) <= uplink.upload_media_max_bytes
            ]
        msgs += [
            Message(events_topic(dept, site, e.source_system), e.model_dump_json().encode())
            for e in events
        ]
        msgs += [
            Message(
                readings_topic(dept, site), r.model_dump_json().encode(), "readings", evidence=False
            )
            for r in readings or []
        ]
        self.outbox.put_many(msgs)
        self._loop.call_soon_threadsafe(self.publisher.notify)

    def _put_discovered(self, msgs: list[Message]) -> None:
        """Discovery reports (on the loop): into the outbox like everything else."""
        self.outbox.put_many(msgs)
        self.publisher.notify()

    def _on_frame(
        self, cam: EdgeCameraConfig, analytics: CameraAnalytics, frame: np.ndarray, at: datetime
    ) -> None:
        """On the camera's analytics thread."""
        detections = analytics.process(frame, at)
        if not detections:
            return
        quality = cam.analytics.snapshot_quality if cam.analytics else 85
        snap, jpeg = snapshot_ref(self.snapshots, frame, quality)
        assert snap.sha256 is not None  # a saved snapshot is content-addressed
        events = [detection_event(self.config, cam, d, snap) for d in detections]
        self.submit(events, media=[(snap.sha256, jpeg)])
        evidence = [str(e.id) for e in events if "clip_request" in e.attributes]
        camera = self.cameras.get(cam.id)
        if evidence and camera is not None:
            self._loop.call_soon_threadsafe(self.clips.request, cam, camera.stream, evidence)

    def _on_stream_event(self, cam: EdgeCameraConfig, ev: Any) -> None:
        if ev.kind not in ("online", "offline"):
            return
        event = Event(
            occurred_at=datetime.now(UTC),
            source_system=SourceSystem.edge,
            kind=f"camera_{ev.kind}",
            severity=Severity.major if ev.kind == "offline" else Severity.info,
            department=self.config.site.department,
            site=self.config.site.id,
            camera=cam.id,
            device=self.config.device,
            attributes={"error": ev.error} if ev.error else {},
        )
        self.submit([event])

    # -- cameras ---------------------------------------------------------------

    def _start_cameras(self) -> None:

        for cam in self.config.cameras:
            if cam.analytics is None:
                continue
            analytics = CameraAnalytics(cam.analytics)
            stream = camera_stream(
                cam.id,
                cam.url.get_secret_value(),
                cam.username,
                cam.password.get_secret_value() if cam.password else None,
                on_event=partial(self._on_stream_event, cam),
                prebuffer_s=cam.analytics.clip.pre_s + 2 if cam.analytics.clip.enabled else 0,
                credentials_file=cam.credentials_file,
            )
            decoder = FrameDecoder(
                partial(self._on_frame, cam, analytics),
                cam.analytics.fps,
                cam.analytics.keyframes_only,
                name=cam.id,
            )
            stream.start()
            stream.fanout.subscribe(decoder)
            self.cameras[cam.id] = _Camera(
                cam, analytics, stream, decoder, stream.acquire("analytics")
            )

    async def _stop_cameras(self) -> None:
        cams, self.cameras = self.cameras, {}
        for c in cams.values():
            c.lease.release()
            await c.stream.close()
            c.decoder.close()

    def camera_health(self) -> dict[str, Any]:
        out = {}
        for cid, c in self.cameras.items():
            h = c.stream.health()
            out[cid] = {
                "state": h["state"],
                "fps_in": h["fps"],
                "error": h["error"],
                "last_frame_age_s": h["last_frame_age_s"],
                "analysed_frames": c.decoder.frames,
                "dropped_frames": c.decoder.dropped,
                "line_counts": c.analytics.counts,
            }
        return out

    # -- config push -------------------------------------------------------------

    def _load_pushed(self) -> None:
        if not self.pushed_path.exists():
            return
        try:
            pushed = parse_push(self.pushed_path.read_bytes())
            self.config = self.config.with_push(pushed)
            self.config_version = pushed.version
        except (ConfigError, ValueError) as exc:
            log.error("ignoring stored pushed configuration: %s", exc)

    async def _apply_push(self, payload: bytes) -> None:
        if not payload:
            return  # the hub cleared its retained push
        try:
            pushed = parse_push(payload)
            new = self.config.with_push(pushed)
        except (ConfigError, ValueError) as exc:
            log.error("pushed configuration rejected: %s", exc)
            self.uplink.set_status(
                config={"version": self.config_version, "rejected": str(exc)[:2000]}
            )
            await self.uplink.publish_status()
            return
        if pushed.version == self.config_version:
            return  # a re-delivery of what is applied already
        self.pushed_path.write_bytes(payload)
        self.config, self.config_version = new, pushed.version
        self.publisher.drain_rate = new.uplink.drain_rate
        await self._stop_cameras()
        self._start_cameras()
        log.info("applied pushed configuration %s", pushed.version)
        self.uplink.set_status(config={"version": pushed.version, "rejected": None})
        await self.uplink.publish_status()

    def _on_message(self, topic: str, payload: bytes) -> None:
        if topic == self.config.topic("edge", "config"):
            task = asyncio.ensure_future(self._apply_push(payload))
            self._tasks.append(task)

    # -- health ------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return health_report(
            self.config.device,
            self.started,
            self.state_dir,
            self.camera_health(),
            self.outbox.stats(),
            {
                "connected": self.uplink.connected.is_set(),
                "connects": self.uplink.connects,
                "last_error": self.uplink.last_error,
                **self.publisher.stats(),
            },
            self.config_version,
            self.push_auth.stats(),
        )

    async def _heartbeat(self) -> None:
        topic = self.config.topic("edge", "health")
        while True:
            if self.uplink.connected.is_set():
                report = await asyncio.to_thread(self.health)
                fut = self.uplink.publish(topic, json.dumps(report, default=str).encode(), qos=0)
                fut.add_done_callback(lambda f: f.cancelled() or f.exception())
            await asyncio.sleep(self.config.health.heartbeat_s)

    async def _retention(self) -> None:
        await every(30, self._enforce_caps, "outbox retention")

    async def _enforce_caps(self) -> None:
        dropped = await asyncio.to_thread(self.outbox.enforce_caps)
        if dropped:
            log.warning("outbox over its caps: dropped %d telemetry rows", dropped)

    # -- life cycle --------------------------------------------------------------

    async def _alive(self) -> bool:
        """Liveness for systemd's watchdog: this loop runs and the outbox answers."""
        self.outbox.stats()
        return True

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._tasks: list[asyncio.Task[Any]] = []
        self.uplink = Uplink(
            self.config,
            on_message=self._on_message,
            subscriptions=[self.config.topic("edge", "config")],
        )
        if self.config_version:
            self.uplink.set_status(config={"version": self.config_version, "rejected": None})
        self.publisher = Publisher(self.outbox, self.uplink, self.config.uplink)
        self.uplink.start()
        self._tasks += [
            asyncio.create_task(c)
            for c in (self.publisher.run(), self._heartbeat(), self._retention())
        ]
        if self.config.discovery.enabled:
            self._tasks.append(asyncio.create_task(self.discovery.run()))
        server = None
        if self.config.listener.enabled:
            server = self._listener()
            self._tasks.append(asyncio.create_task(server.serve()))
        self._start_cameras()
        self._tasks.append(asyncio.create_task(sdnotify.watchdog(self._alive)))
        sdnotify.notify("READY=1")
        log.info(
            "edge agent %s up: site %s, %d cameras, outbox depth %d",
            self.config.device,
            self.config.site.id,
            len(self.cameras),
            self.outbox.stats()["depth"],
        )
        try:
            await stop.wait()
        finally:
            sdnotify.notify("STOPPING=1")
            if server is not None:
                server.should_exit = True
            await self._stop_cameras()
            for t in self._tasks:
                t.cancel()
            for t in self._tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            await self.uplink.stop()
            self.outbox.close()

    def _listener(self) -> uvicorn.Server:
        push = self.config.push
        if push.allow_anonymous:
            log.warning("push.allow_anonymous: anyone who reaches %s:%d may push events",
                        self.config.listener.host, self.listener_port)
        elif self.config.adapters and not push.devices:
            log.warning("no push.devices configured: every push to the listener is refused")
        app = build_app(self.config, self.submit, self.snapshots, self.health, self.push_auth,
                        self.clips.dir)
        cfg = uvicorn.Config(
            app,
            host=self.config.listener.host,
            port=self.listener_port,
            log_level="warning",
            log_config=uvicorn_log_config(),
            access_log=False,
            lifespan="off",
        )
        return _ListenerServer(cfg)
