"""A disk that stops taking writes never stalls a camera's live view: the recording branch
(no queue of its own: splitmuxsink's is the only one) drops frames once ``BACKLOG_S`` of
media waits to be written, and records again once the disk has caught up.

The "disk" is a FIFO the segment is written into: its reader stops reading (every write
blocks, as on a hung NAS), then drains it.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

from devkit.fixtures.wait import wait_for  # noqa: E402
from streams.core.upstream import UpstreamSession  # noqa: E402
from streams.recording.branch import BACKLOG_S, RecordingBranch  # noqa: E402
from streams.sources.rtsp import RtspSource  # noqa: E402

Gst.init(None)


class SlowDisk:
    """Reads the FIFO while ``reading`` is set; counts the bytes written through it."""

    def __init__(self, fifo: Path) -> None:
        self.fifo = fifo
        self.received = 0
        self.reading = threading.Event()
        self.reading.set()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        with self.fifo.open("rb") as f:  # opens once the muxer opens the segment
            while True:
                self.reading.wait()
                chunk = f.read1(1 << 16)
                if not chunk:
                    return
                self.received += len(chunk)


def test_a_stalled_disk_drops_recorded_frames_never_live_ones(cameras, tmp_path) -> None:
    fifo = tmp_path / "segment.mp4"
    os.mkfifo(fifo)
    disk = SlowDisk(fifo)
    errors: list[str] = []
    branches: list[RecordingBranch] = []

    def record(session: UpstreamSession) -> None:
        branch = RecordingBranch(session, lambda: fifo, lambda *_: None, errors.append,
                                 segment_s=3600, fragment_ms=500)
        branch.attach()
        branches.append(branch)

    session = UpstreamSession(RtspSource(cameras.url("cam1")).make_element,
                              lambda *_: None, errors.append, "cam1", on_linked=record)
    session.start()
    try:
        wait_for(lambda: disk.received > 50_000, what="the segment being written")
        branch = branches[0]
        disk.reading.clear()  # the disk hangs
        wait_for(lambda: branch.overruns == 1, timeout=BACKLOG_S + 20,
                 what="the branch dropping frames")
        # Live frames go on at the camera's rate (15 fps) while the disk is stuck.
        frames = session.counters()[0]
        wait_for(lambda: session.counters()[0] >= frames + 30, timeout=4,
                 what="live frames while the disk is stuck")
        assert branch.valve.get_property("drop") and branch.dropped >= 30
        written = disk.received
        disk.reading.set()  # the disk is back: the backlog drains, recording resumes

        def resumed() -> bool:
            branch.poll()  # what the housekeeping tick does
            return not branch.valve.get_property("drop")
        wait_for(resumed, what="recording to resume")
        wait_for(lambda: disk.received > written + 200_000, what="new media written")
        assert branch.overruns == 1 and not errors
        dropped = branch.dropped  # counted while closed, then kept
        assert dropped >= 30 and branch.dropped == dropped
    finally:
        disk.reading.set()
        session.stop()
