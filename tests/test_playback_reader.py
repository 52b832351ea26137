"""The segment reader skips a segment a failed write left unreadable: playback and export
go on over it as over a gap (#17). Real MP4 segments made by GStreamer."""

from __future__ import annotations

import subprocess
from pathlib import Path

from streams.glib_loop import ensure_glib_loop
from streams.playback.reader import read_from, timed
from streams.recording.journal import Journal


def _segment(path: Path, seconds: int) -> Path:
    subprocess.run(
        ["gst-launch-1.0", "-q", "videotestsrc", f"num-buffers={15 * seconds}", "!",
         "video/x-raw,width=320,height=240,framerate=15/1", "!", "x264enc", "key-int-max=15",
         "bframes=0", "!", "h264parse", "!", "mp4mux", "!", "filesink", f"location={path}"],
        check=True, timeout=60, capture_output=True)
    return path


def test_an_unreadable_segment_is_skipped_as_a_gap(tmp_path: Path) -> None:
    ensure_glib_loop()  # Gst initialised, as in the relay
    journal = Journal.open("cam1", tmp_path / "cam1")
    t0 = 1_800_000_000.0
    journal.add_segment(_segment(tmp_path / "a.mp4", 2), t0, t0 + 2)
    broken = tmp_path / "b.mp4"
    broken.write_bytes(_segment(tmp_path / "full.mp4", 1).read_bytes()[:863])  # a stub
    journal.add_segment(broken, t0 + 2, t0 + 2.3)
    journal.add_segment(_segment(tmp_path / "c.mp4", 2), t0 + 3, t0 + 5)
    units = list(read_from(journal.ordered(), t0 + 0.5))
    assert units[0][0].keyframe and units[0][0].pts <= t0 + 0.5
    after = [(au, gap) for au, gap in units if au.pts >= t0 + 3]
    assert len(after) == 30 and after[0][1] is True  # the next segment, after a gap
    assert sum(1 for au, _ in units if t0 + 2 <= au.pts < t0 + 3) == 0


def test_a_unit_without_a_time_takes_the_time_before_it() -> None:
    """GStreamer's "no time" (2**64 - 1 ns) once became a wall time centuries ahead and
    raised OverflowError in RTSP playback; an untimed unit now keeps the previous time."""
    ensure_glib_loop()
    from gi.repository import Gst  # noqa: PLC0415  lazy: Gst is initialised by the call above

    untimed = Gst.Buffer.new_wrapped(b"\x00\x00\x00\x01\x09\x10")
    assert timed(untimed, 3_000_000_000) == 3_000_000_000
    decoded_only = Gst.Buffer.new_wrapped(b"\x00")
    decoded_only.dts = 5_000_000_000
    assert timed(decoded_only, 3_000_000_000) == 5_000_000_000
    presented = Gst.Buffer.new_wrapped(b"\x00")
    presented.pts, presented.dts = 7_000_000_000, 6_000_000_000
    assert timed(presented, 3_000_000_000) == 7_000_000_000
