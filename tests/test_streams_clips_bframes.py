"""Event clips from a camera that sends B-frames (PTS out of decode order).

Real x264 output with B-frames goes through the relay's clip writer; ffprobe must
decode every frame and present them in strictly increasing time.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import gi
import pytest

from devkit.fixtures.ffprobe import ffprobe
from streams.core.media import AccessUnit
from streams.recorder.clips import decode_timestamps, write_mp4

gi.require_version("Gst", "1.0")
gi.require_version("GstApp", "1.0")
from gi.repository import Gst, GstApp  # noqa: E402, F401


def encode_with_bframes(frames: int) -> list[AccessUnit]:
    Gst.init(None)
    pipe = Gst.parse_launch(
        f"videotestsrc num-buffers={frames} ! video/x-raw,width=320,height=240,framerate=25/1 "
        "! x264enc bframes=2 b-adapt=false key-int-max=25 speed-preset=ultrafast "
        "! h264parse config-interval=-1 ! video/x-h264,stream-format=byte-stream,alignment=au "
        "! appsink name=out sync=false"
    )
    sink = pipe.get_by_name("out")
    pipe.set_state(Gst.State.PLAYING)
    units = []
    while (sample := sink.try_pull_sample(5 * Gst.SECOND)) is not None:
        buf = sample.get_buffer()
        units.append(
            AccessUnit(
                buf.extract_dup(0, buf.get_size()),
                10.0 + buf.pts / Gst.SECOND,  # media time, as the relay's fan-out carries it
                not buf.has_flags(Gst.BufferFlags.DELTA_UNIT),
                "h264",
            )
        )
    pipe.set_state(Gst.State.NULL)
    return units


def test_decode_timestamps_are_pts_without_bframes_and_monotonic_with() -> None:
    assert decode_timestamps([1.0, 1.04, 1.08]) == [1.0, 1.04, 1.08]
    dts = decode_timestamps([0.0, 0.12, 0.04, 0.08])  # I P B B
    assert dts == sorted(dts) and all(
        d <= p for d, p in zip(dts, [0.0, 0.12, 0.04, 0.08], strict=True)
    )


def test_clip_with_bframes_decodes_every_frame_in_presentation_order(tmp_path: Path) -> None:
    units = encode_with_bframes(50)
    pts = [u.pts for u in units]
    assert pts != sorted(pts), "the encoder produced no reordered frames"
    path = tmp_path / "clip.mp4"
    write_mp4(units, path)
    if shutil.which("ffprobe") is None:
        pytest.fail("ffprobe is missing: install the Debian package 'ffmpeg'")
    frames = ffprobe(path, "frame=pict_type,best_effort_timestamp_time")["frames"]
    assert len(frames) == 50
    assert "B" in {f["pict_type"] for f in frames}
    times = [float(f["best_effort_timestamp_time"]) for f in frames]
    assert all(b > a for a, b in zip(times, times[1:], strict=False)), times
    # A valid MP4 sample table: decode times strictly increase and never follow presentation.
    packets = ffprobe(path, "packet=pts_time,dts_time")["packets"]
    dts = [float(p["dts_time"]) for p in packets]
    assert all(b > a for a, b in zip(dts, dts[1:], strict=False)), dts
    assert all(float(p["pts_time"]) >= float(p["dts_time"]) for p in packets)
