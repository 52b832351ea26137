"""One stretch of a GB/T 28181 device's own recording, received for one viewer: the SIP
service (its HTTP control API, as for live ``gb28181://`` channels) INVITEs the channel
with ``s=Playback`` and ``t=<start> <end>``, a thread receives the PS over RTP
(``receiver.MediaReceiver``) and hands frames to a sink; ``command`` sends MANSRTSP
(pause, play, scale, seek) in the call; ``stop`` BYEs. The device ending the call (BYE at
the end of the file, or MediaStatus 121, or a TCP hang-up) ends the frames: ``on_end``."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from streams.gb28181.control import post_control
from streams.gb28181.ps import Frame
from streams.gb28181.receiver import MediaClosed, MediaReceiver

log = logging.getLogger(__name__)
MEDIA_TIMEOUT_S = 10.0  #: nothing for this long while playing: the session ends
CALL_CHECK_S = 0.5  #: how often the call's state is asked (a device's BYE ends the viewer)


@dataclass(frozen=True)
class Channel:
    """Where a channel's recordings are asked for (from its ``gb28181://`` URL)."""

    device: str
    channel: str
    control: str  #: the SIP service's control API
    token: str
    transport: str = "udp"
    media_host: str = "127.0.0.1"


class DeviceRecording:
    def __init__(self, ch: Channel, start: int, end: int,
                 download_speed: int | None = None) -> None:
        self.ch, self.start, self.end, self.download_speed = ch, start, end, download_speed
        self.call_id: str | None = None
        self.stopped = threading.Event()
        self.paused = False
        self.ended = threading.Event()  #: the device ended the call (or media failed)
        self.end_reason = ""
        self.first = threading.Event()  #: a first frame came (its codec known)
        self.codec: str | None = None
        self._lock = threading.Lock()
        self._pending: list[Frame] = []  #: frames before a sink was attached
        self._sink: Callable[[Frame], None] | None = None
        self.on_end: Callable[[], None] = lambda: None
        self.thread = threading.Thread(target=self._run, name=f"gbrec-{ch.channel}",
                                       daemon=True)

    def _post(self, path: str, body: dict[str, object]) -> dict[str, object]:
        return post_control(self.ch.control, self.ch.token, path, body)

    def open(self, timeout_s: float) -> str | None:
        """INVITE and wait for the first frame; its codec (None: nothing came)."""
        self.thread.start()
        self.first.wait(timeout_s)
        return self.codec

    def attach(self, sink: Callable[[Frame], None]) -> None:
        with self._lock:
            self._sink = sink
            pending, self._pending = self._pending, []
        for frame in pending:
            sink(frame)

    def command(self, command: str, scale: float | None = None,
                npt: float | None = None) -> bool:
        """MANSRTSP in the call (``pause`` / ``play``); False when not accepted."""
        if self.call_id is None or self.ended.is_set():
            return False
        try:
            self._post("/info", {"call_id": self.call_id, "command": command, "scale": scale,
                                 "npt": npt})
        except (httpx.HTTPError, RuntimeError) as exc:
            log.info("gb28181 playback %s: %s not accepted: %s", self.ch.channel, command, exc)
            return False
        self.paused = command == "pause"
        return True

    def stop(self) -> None:
        self.stopped.set()

    def _run(self) -> None:
        try:
            self._receive()
        except MediaClosed:
            self._ended("the device closed the media connection")
        except Exception as exc:  # never kill the relay
            self._ended(f"failed: {exc}")
        finally:
            self.first.set()
            self._bye()

    def _ended(self, why: str) -> None:
        if not self.ended.is_set() and not self.stopped.is_set():
            self.end_reason = why
            log.info("gb28181 playback %s: %s", self.ch.channel, why)
            self.ended.set()
            self.on_end()

    def _receive(self) -> None:
        media = MediaReceiver(self.ch.transport, self.ch.media_host)
        try:
            answer = self._post("/invite", {
                "device": self.ch.device, "channel": self.ch.channel,
                "host": self.ch.media_host, "port": media.port, "transport": self.ch.transport,
                "start": self.start, "end": self.end, "download_speed": self.download_speed})
            self.call_id = str(answer["call_id"])
            media.connect(answer, MEDIA_TIMEOUT_S)
            self._loop(media)
        finally:
            media.close()

    def _loop(self, media: MediaReceiver) -> None:
        last = checked = time.monotonic()
        for frame in media.frames():
            if self.stopped.is_set():
                return
            now = time.monotonic()
            if frame is not None:
                last = now
                self._deliver(frame)
            elif not self.paused and now - last > MEDIA_TIMEOUT_S:
                raise RuntimeError(f"no media for {MEDIA_TIMEOUT_S:.0f} s")
            if now - checked >= CALL_CHECK_S:
                checked = now
                if not self._call_open():
                    self._ended("the device ended the call (end of the recording)")
                    return

    def _deliver(self, frame: Frame) -> None:
        with self._lock:
            if self.codec is None:
                self.codec = frame.codec
                self.first.set()
            sink = self._sink
            if sink is None:
                self._pending.append(frame)
                del self._pending[:-250]  # bounded: ten seconds at 25 fps
                return
        sink(frame)

    def _call_open(self) -> bool:
        try:
            r = httpx.get(f"{self.ch.control}/calls/{self.call_id}", timeout=5.0,
                          headers={"authorization": f"Bearer {self.ch.token}"})
        except httpx.HTTPError:
            return True  # the SIP service is away a moment: the media timeout decides
        return r.status_code != 200 or bool(r.json().get("open"))

    def _bye(self) -> None:
        if self.call_id is None or self.ended.is_set() and "ended the call" in self.end_reason:
            return
        try:
            self._post("/bye", {"call_id": self.call_id})
        except (httpx.HTTPError, RuntimeError) as exc:
            log.info("gb28181 playback %s: BYE not delivered: %s", self.ch.channel, exc)
