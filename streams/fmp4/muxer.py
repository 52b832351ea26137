"""Access units -> fragmented MP4 (init segment, then one moof+mdat per frame), no re-encoding.

GStreamer's parser and ``mp4mux`` (fragmented, streamable) do the muxing; one muxer
per viewer, so each viewer's timeline starts at zero on the GOP cache's keyframe.
Output arrives on a GStreamer thread through ``on_box`` (whole top-level boxes).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstApp", "1.0")
from gi.repository import Gst, GstApp  # noqa: E402, F401 (GstApp: appsrc/appsink methods)

from streams.core.media import AccessUnit  # noqa: E402
from streams.fmp4.boxes import BoxError, BoxSplitter  # noqa: E402

log = logging.getLogger(__name__)

OnBox = Callable[[str, bytes], None]  # box type, whole box
OnError = Callable[[str], None]


class Fmp4Muxer:
    """appsrc (Annex-B AUs) ! parse ! mp4mux fragment-duration=1 ! appsink."""

    def __init__(self, codec: str, on_box: OnBox, on_error: OnError, name: str = "fmp4") -> None:
        self.codec = codec
        self.on_box = on_box
        self.on_error = on_error
        self._t0: float | None = None
        self._last_pts = -1.0
        self._closed = False
        self._splitter = BoxSplitter()
        self.pipeline = Gst.parse_launch(
            f"appsrc name=src is-live=true format=time max-bytes=16000000 "
            f"caps=video/x-{codec},stream-format=byte-stream,alignment=au "
            f"! {codec}parse ! mp4mux fragment-duration=1 streamable=true "
            "! appsink name=out sync=false emit-signals=true max-buffers=0"
        )
        self.pipeline.set_name(f"fmp4-{name}")
        self.src = self.pipeline.get_by_name("src")
        out = self.pipeline.get_by_name("out")
        out.connect("new-sample", self._on_sample)
        self.pipeline.get_bus().set_sync_handler(self._on_message)

    def start(self) -> None:
        if self.pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            raise RuntimeError("cannot start the fMP4 muxer")

    def push(self, au: AccessUnit) -> None:
        """Queue one access unit (thread-safe; the first one pushed must be a keyframe)."""
        if self._closed or au.codec != self.codec:
            return
        if self._t0 is None:
            if not au.keyframe:
                return
            self._t0 = au.pts
        pts = max(au.pts - self._t0, self._last_pts + 1e-3)  # never back, never equal
        self._last_pts = pts
        buf = Gst.Buffer.new_wrapped(au.data)
        buf.pts = buf.dts = int(pts * Gst.SECOND)  # surveillance H.264/H.265: no B-frames
        if not au.keyframe:
            buf.set_flags(Gst.BufferFlags.DELTA_UNIT)
        self.src.push_buffer(buf)

    def close(self) -> None:
        """Tear down (blocking; not from a GStreamer thread)."""
        self._closed = True
        self.pipeline.set_state(Gst.State.NULL)
        self.pipeline.get_bus().set_sync_handler(None)

    def _on_sample(self, sink: Gst.Element) -> Gst.FlowReturn:
        sample = sink.pull_sample()
        if sample is None:
            return Gst.FlowReturn.EOS
        buf = sample.get_buffer()
        try:
            boxes = self._splitter.feed(buf.extract_dup(0, buf.get_size()))
        except BoxError as exc:
            self._fail(f"muxer output is not MP4: {exc}")
            return Gst.FlowReturn.ERROR
        for kind, data in boxes:
            self.on_box(kind, data)
        return Gst.FlowReturn.OK

    def _on_message(self, _bus: Gst.Bus, msg: Gst.Message) -> Gst.BusSyncReply:
        if msg.type == Gst.MessageType.ERROR:
            self._fail(msg.parse_error()[0].message)
        return Gst.BusSyncReply.DROP

    def _fail(self, message: str) -> None:
        if not self._closed:
            log.warning("fMP4 muxer: %s", message)
            self.on_error(message)
