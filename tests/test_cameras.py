"""Synthetic cameras are real RTSP streams that real clients decode."""

from __future__ import annotations

import gi
import numpy as np

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

from devkit.fixtures.cameras import SyntheticCameras  # noqa: E402
from devkit.fixtures.ffprobe import ffprobe  # noqa: E402


def decode_frames(url: str, count: int, timeout_s: float = 15.0) -> list[np.ndarray]:
    """Pull ``count`` RGB frames through GStreamer's rtspsrc and a software decoder."""
    Gst.init(None)
    pipeline = Gst.parse_launch(
        f"rtspsrc location={url} latency=0 protocols=tcp ! rtph264depay ! h264parse "
        "! avdec_h264 ! videoconvert ! video/x-raw,format=RGB ! appsink name=sink sync=false"
    )
    sink = pipeline.get_by_name("sink")
    frames: list[np.ndarray] = []
    pipeline.set_state(Gst.State.PLAYING)
    try:
        while len(frames) < count:
            sample = sink.emit("try-pull-sample", int(timeout_s * Gst.SECOND))
            assert sample is not None, f"no frame from {url} within {timeout_s}s"
            caps = sample.get_caps().get_structure(0)
            w, h = caps.get_value("width"), caps.get_value("height")
            buf = sample.get_buffer()
            ok, info = buf.map(Gst.MapFlags.READ)
            assert ok
            try:
                frames.append(np.frombuffer(info.data, np.uint8).reshape(h, w, 3).copy())
            finally:
                buf.unmap(info)
    finally:
        pipeline.set_state(Gst.State.NULL)
    return frames


def test_rtspsrc_decodes_moving_frames(cameras: SyntheticCameras) -> None:
    frames = decode_frames(cameras.url("cam2"), 20)
    assert frames[0].shape == (360, 640, 3)
    assert frames[0].std() > 5, "frame is flat: no test pattern decoded"
    diffs = [
        float(np.abs(a.astype(int) - b.astype(int)).mean())
        for a, b in zip(frames, frames[1:], strict=False)
    ]
    assert max(diffs) > 0.5, "content does not move"


def test_ffprobe_reads_stream_parameters(cameras: SyntheticCameras) -> None:
    (stream,) = ffprobe(cameras.url("cam1"), "stream=codec_name,width,height,avg_frame_rate",
                        timeout=30)["streams"]
    assert stream["codec_name"] == "h264"
    assert (stream["width"], stream["height"]) == (640, 360)


def test_each_camera_is_its_own_stream(cameras: SyntheticCameras) -> None:
    """The burned-in camera name differs, so two cameras' first frames differ."""
    a = decode_frames(cameras.url("cam1"), 1)[0]
    b = decode_frames(cameras.url("cam3"), 1)[0]
    top_left = (slice(0, 40), slice(0, 200))
    assert np.abs(a[top_left].astype(int) - b[top_left].astype(int)).mean() > 1
