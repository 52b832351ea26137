"""The recording branch starts on a keyframe that has a time: a session's first units may
carry none, and mp4mux refuses such a buffer (the segment fails, an alarm, a gap). Real
GStreamer: an appsrc pushes what a camera's first units may look like through a pad with
the branch's probe into an appsink.
"""

from __future__ import annotations

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstApp", "1.0")
from gi.repository import Gst, GstApp  # noqa: E402, F401 (GstApp: appsrc/appsink methods)

from streams.recording.branch import until_timed_keyframe  # noqa: E402

Gst.init(None)


def unit(pts: int | None, keyframe: bool) -> Gst.Buffer:
    buf = Gst.Buffer.new_wrapped(b"\x00\x00\x00\x01\x65" if keyframe else b"\x00\x00\x00\x01\x41")
    buf.pts = Gst.CLOCK_TIME_NONE if pts is None else pts
    if not keyframe:
        buf.set_flags(Gst.BufferFlags.DELTA_UNIT)
    return buf


def passed(units: list[Gst.Buffer]) -> list[tuple[int, bool]]:
    """(pts, keyframe) of what went through the probe, in order."""
    pipeline = Gst.parse_launch(
        "appsrc name=src format=time ! identity name=inlet ! appsink name=out sync=false"
    )
    inlet = pipeline.get_by_name("inlet").get_static_pad("sink")
    inlet.add_probe(Gst.PadProbeType.BUFFER, until_timed_keyframe)
    src, out = pipeline.get_by_name("src"), pipeline.get_by_name("out")
    pipeline.set_state(Gst.State.PLAYING)
    for buf in units:
        src.push_buffer(buf)
    src.end_of_stream()
    got = []
    while (sample := out.try_pull_sample(5 * Gst.SECOND)) is not None:
        buf = sample.get_buffer()
        got.append((buf.pts, not buf.has_flags(Gst.BufferFlags.DELTA_UNIT)))
    pipeline.set_state(Gst.State.NULL)
    return got


def test_untimed_keyframe_and_deltas_before_it_are_dropped() -> None:
    ms = Gst.MSECOND
    got = passed([
        unit(None, keyframe=True),  # a first keyframe without a time: mp4mux would refuse it
        unit(None, keyframe=False),
        unit(40 * ms, keyframe=False),
        unit(80 * ms, keyframe=True),  # the first timed keyframe: recording starts here
        unit(120 * ms, keyframe=False),
        unit(None, keyframe=False),  # after it the probe is gone: everything passes
    ])
    assert got == [(80 * ms, True), (120 * ms, False), (Gst.CLOCK_TIME_NONE, False)]
