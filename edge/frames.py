"""Decoded frames for analytics, taken from the streams/ fan-out.

One upstream per camera comes from ``streams`` (its ``CameraStream`` actor
feeding a ``Fanout`` of encoded access units, reconnecting with back-off: the
same path the relay uses, so the edge has no relay of its own). Analytics subscribe a
``FrameDecoder``: appsrc -> parse -> avdec -> videorate (drop to the configured
fps) -> videoconvert -> appsink, so only what analytics need is converted to
BGR; with ``keyframes_only`` even the decoding is limited to keyframes.
Frames reach ``on_frame`` on a worker thread of the decoder's own; when
analytics fall behind, frames are dropped, never queued.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import gi
import numpy as np

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

from streams.config import StreamsConfig  # noqa: E402
from streams.core.health import StreamEvent  # noqa: E402
from streams.core.media import AccessUnit  # noqa: E402
from streams.core.stream import CameraStream  # noqa: E402
from streams.sources import element_factory  # noqa: E402

log = logging.getLogger(__name__)
OnFrame = Callable[[np.ndarray, datetime], None]


class FrameDecoder:
    """A fan-out consumer that decodes at most ``fps`` BGR frames per second."""

    def __init__(
        self, on_frame: OnFrame, fps: float, keyframes_only: bool = False, name: str = "camera"
    ) -> None:
        Gst.init(None)
        self.on_frame = on_frame
        self.keyframes_only = keyframes_only
        self.name = name
        self.frames = 0
        self.dropped = 0
        self._codec: str | None = None
        self._pipeline: Gst.Pipeline | None = None
        self._appsrc: Gst.Element | None = None
        self._t0: float | None = None
        self._started_decoding = False
        self._queue: queue.Queue[tuple[np.ndarray, datetime] | None] = queue.Queue(maxsize=1)
        self._fps = fps
        self._worker = threading.Thread(target=self._work, name=f"analytics-{name}", daemon=True)
        self._worker.start()

    # Fan-out consumer: called on the upstream's streaming thread; must be quick.
    def __call__(self, au: AccessUnit) -> None:
        if self._pipeline is None or au.codec != self._codec:
            self._build(au.codec)
        if not self._started_decoding:
            if not au.keyframe:
                return
            self._started_decoding = True
        if self.keyframes_only and not au.keyframe:
            return
        if self._t0 is None:
            self._t0 = au.pts
        buf = Gst.Buffer.new_wrapped(au.data)
        buf.pts = int(max(0.0, au.pts - self._t0) * Gst.SECOND)
        if not au.keyframe:
            buf.set_flags(Gst.BufferFlags.DELTA_UNIT)
        assert self._appsrc is not None
        self._appsrc.emit("push-buffer", buf)

    def _build(self, codec: str) -> None:
        self.close_pipeline()
        rate = f"videorate drop-only=true max-rate={max(1, round(self._fps))} ! "
        desc = (
            f"appsrc name=src is-live=true format=time do-timestamp=false block=false "
            f"max-bytes=4000000 caps=video/x-{codec},stream-format=byte-stream,alignment=au "
            f"! {codec}parse ! avdec_{codec} ! {rate}videoconvert "
            f"! video/x-raw,format=BGR ! appsink name=sink sync=false max-buffers=2 drop=true "
            f"emit-signals=true"
        )
        pipeline = Gst.parse_launch(desc)
        self._appsrc = pipeline.get_by_name("src")
        pipeline.get_by_name("sink").connect("new-sample", self._on_sample)
        pipeline.get_bus().set_sync_handler(self._on_bus)
        pipeline.set_state(Gst.State.PLAYING)
        self._pipeline, self._codec, self._t0, self._started_decoding = pipeline, codec, None, False

    def _on_bus(self, _bus: Gst.Bus, msg: Gst.Message) -> Gst.BusSyncReply:
        if msg.type == Gst.MessageType.ERROR:
            err, _ = msg.parse_error()
            log.warning("%s: decoder error: %s", self.name, err.message)
        return Gst.BusSyncReply.DROP

    def _on_sample(self, sink: Gst.Element) -> Gst.FlowReturn:
        sample = sink.emit("pull-sample")
        if sample is None:
            return Gst.FlowReturn.EOS
        s = sample.get_caps().get_structure(0)
        w, h = s.get_value("width"), s.get_value("height")
        buf = sample.get_buffer()
        ok, info = buf.map(Gst.MapFlags.READ)
        if not ok:
            return Gst.FlowReturn.OK
        try:
            stride = len(info.data) // h
            frame = np.frombuffer(info.data, np.uint8).reshape(h, stride)[:, : w * 3]
            frame = frame.reshape(h, w, 3).copy()
        finally:
            buf.unmap(info)
        item = (frame, datetime.now(UTC))
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1  # analytics are behind: keep the newest frame only
            try:
                self._queue.get_nowait()
            except queue.Empty:
                pass
            self._queue.put_nowait(item)
        return Gst.FlowReturn.OK

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            self.frames += 1
            try:
                self.on_frame(*item)
            except Exception:  # a bad frame must not end the camera's analytics
                log.exception("%s: analytics failed on a frame", self.name)

    def close_pipeline(self) -> None:
        if self._pipeline is not None:
            self._pipeline.set_state(Gst.State.NULL)
            self._pipeline.get_bus().set_sync_handler(None)
            self._pipeline = None

    def close(self) -> None:
        self.close_pipeline()
        self._queue.put(None)


def camera_stream(
    camera_id: str,
    url: str,
    username: str | None,
    password: str | None,
    on_event: Callable[[StreamEvent], None] | None = None,
    prebuffer_s: float = 0.0,
    credentials_file: Path | None = None,
) -> CameraStream:
    """The streams/ actor for one local camera, kept connected (analytics always consume)."""
    make, shown = element_factory(url, username, password, credentials_file)
    settings = StreamsConfig(prebuffer_s=prebuffer_s, require_token=False)
    return CameraStream(
        camera_id,
        make,
        settings,
        always_on=True,
        on_event=on_event,
        display_url=shown,
    )
