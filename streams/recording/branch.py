"""The recording branch of one upstream session: tee -> valve -> timestamper -> splitmuxsink.

The tee carries what mp4mux takes (length-prefixed access units from the session's one
parser, streams/core/upstream.py): the branch parses nothing again (a bare
``depay ! parse ! splitmuxsink`` recorder parses once too). Frames never pass through Python:
splitmuxsink cuts fragmented MP4 segments on
keyframes (no re-encoding), and Python only hears of each segment being opened and
closed (bus messages) and names its file. A failing write (disk full, path gone)
is claimed here and never fails the camera's live view: the branch drops its input
and reports ``on_failed``.

No queue of our own: splitmuxsink already has one (its ``queue_video``, one thread hop, as in
a bare recorder), and a second one cost a thread hop per frame. A slow disk still never
stalls live video: that queue blocks the camera's streaming thread only when full, and its
``overrun`` signal (rare: a GOP larger than it holds, or a backlog) lets it grow while the
backlog is under ``BACKLOG_S``, then closes the valve (frames are dropped before the muxer,
as a leaky queue dropped them) until the disk has caught up (``poll``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

from streams.core.upstream import UpstreamSession  # noqa: E402

log = logging.getLogger(__name__)

SETTLE_S = 0.3  # quiet time after which a finishing branch has closed all it will
BACKLOG_S = 10.0  # unwritten media beyond which frames are dropped rather than queued
RESUME_S = 1.0  # backlog under which dropping stops
OnClosed = Callable[[Path, float, float], None]  # file, start wall s, end wall s


def until_timed_keyframe(_pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
    """Pad probe: drop until a keyframe that has a time, then remove itself (no Python per
    frame after that). A session's first units may carry no time, and mp4mux refuses a
    buffer without one ("Could not multiplex stream": a failed segment, an alarm, a branch
    restart and a gap at the start of every such session)."""
    buf = info.get_buffer()
    if buf is not None and (
        buf.has_flags(Gst.BufferFlags.DELTA_UNIT) or buf.pts == Gst.CLOCK_TIME_NONE
    ):
        return Gst.PadProbeReturn.DROP
    return Gst.PadProbeReturn.REMOVE


class RecordingBranch:
    def __init__(
        self,
        session: UpstreamSession,
        name_file: Callable[[], Path],
        on_closed: OnClosed,
        on_failed: Callable[[str], None],
        segment_s: float,
        fragment_ms: int,
    ) -> None:
        self.session = session
        self.name_file = name_file
        self.on_closed = on_closed
        self.on_failed = on_failed
        self.failed = False
        self._open: dict[str, float] = {}  # file -> start (wall)
        self._changed = threading.Condition()
        self._messages = 0  # fragment messages seen (finish waits for them to settle)
        codec = session.codec or "h264"
        self.valve = Gst.ElementFactory.make("valve")
        self.valve.set_property("drop-mode", 1)  # closed: drop buffers, pass caps/segment/EOS
        self.overruns = 0  # times the disk fell BACKLOG_S behind and frames were dropped
        self._dropped = 0  # frames not recorded for a slow disk (closed spells so far)
        self._closed_at: int | None = None  # the tee's frame count when the valve closed
        self._stuck = False  # reopened on a backlog that no longer shrank: the same spell
        self._backlog_q: Gst.Element | None = None  # splitmuxsink's own input queue
        self._backlog = -1  # its level (ns) at the last poll while dropping
        # A loaded relay sometimes gets two pictures in one access unit from the camera's
        # RTP (a late packet dropped): the parser splits them and the second has no time,
        # which mp4mux refuses (the segment failed, a gap). The timestamper gives it one.
        stamper = Gst.ElementFactory.make(f"{codec}timestamper")
        self.elements = [self.valve] if stamper is None else [self.valve, stamper]
        mux = Gst.ElementFactory.make("mp4mux")
        mux.set_property("fragment-duration", fragment_ms)  # a crash loses at most a fragment
        self.sink = Gst.ElementFactory.make("splitmuxsink")
        self.sink.set_property("muxer", mux)
        self.sink.set_property("max-size-time", int(segment_s * Gst.SECOND))
        self.sink.set_property("async-finalize", False)
        self.sink.connect("format-location", self._format_location)
        self._dropping = False  # input dropped for good (failed or finishing)

    def attach(self) -> None:
        """Link to the session's tee (before or while it flows)."""
        pipeline, tee = self.session.pipeline, self.session.tee
        assert tee is not None  # listeners run once the session is linked
        chain = [*self.elements, self.sink]
        for element in chain:
            pipeline.add(element)
        for a, b in zip(chain, chain[1:], strict=False):
            a.link(b)
        self._backlog_q = self.sink.get_by_name("queue_video")  # made with the sink's pad
        if self._backlog_q is not None:
            self._backlog_q.connect("overrun", self._overrun)
        for element in reversed(chain):
            element.sync_state_with_parent()
        self._inlet().add_probe(Gst.PadProbeType.BUFFER, until_timed_keyframe)
        self.session.message_hooks.append(self._on_message)
        self.session.stop_hooks.append(self.finish)
        tee.link(self.valve)

    def _inlet(self) -> Gst.Pad:
        return self.valve.get_static_pad("sink")

    # -- GStreamer threads ---------------------------------------------------
    def _overrun(self, queue: Gst.Element) -> None:
        """splitmuxsink's queue is full (its own handler ran first and may have grown it).
        Never let it block the camera's thread: grow it by one, and past ``BACKLOG_S`` of
        unwritten media close the valve until ``poll`` sees the disk caught up."""
        limit = queue.get_property("max-size-buffers")
        if queue.get_property("current-level-buffers") < limit:
            return  # splitmuxsink grew it: there is room
        if queue.get_property("current-level-time") >= BACKLOG_S * Gst.SECOND:
            if not self.valve.get_property("drop"):
                if not self._stuck:  # a new spell (not the same one tried again)
                    self.overruns += 1
                    log.warning("%s: disk too slow, recording drops frames", self.session.name)
                self._closed_at = self.session.frames()
                self.valve.set_property("drop", True)
        queue.set_property("max-size-buffers", limit + 1)

    def poll(self) -> None:
        """Open the valve again once the backlog is written (called every housekeeping tick):
        under ``RESUME_S``, or no longer shrinking (what is left is the GOP the valve cut,
        which splitmuxsink holds until a next keyframe; a disk still stuck closes it again).
        Recording resumes on the next keyframe."""
        queue = self._backlog_q
        if self._dropping or queue is None:
            return
        resume = RESUME_S * Gst.SECOND
        if not self.valve.get_property("drop"):
            self._stuck = self._stuck and queue.get_property("current-level-time") >= resume
            return
        level, self._backlog = self._backlog, queue.get_property("current-level-time")
        if self._backlog < resume or self._backlog == level:
            self._stuck = self._backlog >= resume
            self._backlog = -1
            self.valve.get_static_pad("src").add_probe(
                Gst.PadProbeType.BUFFER, until_timed_keyframe
            )
            self.valve.set_property("drop", False)
            self._dropped, self._closed_at = self.dropped, None
            if not self._stuck:
                log.info("%s: disk caught up, recording resumes", self.session.name)

    @property
    def dropped(self) -> int:
        """Frames a slow disk kept from being recorded (the tee's count while closed)."""
        closed_at = self._closed_at
        return self._dropped + (0 if closed_at is None else self.session.frames() - closed_at)

    def _format_location(self, _sink: Gst.Element, _fragment: int) -> str:
        path = self.name_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        return str(path)

    def _wall(self, running_time: int) -> float:
        pipeline = self.session.pipeline
        clock = pipeline.get_clock()
        if clock is None:
            return time.time()
        now_rt = clock.get_time() - pipeline.get_base_time()
        return time.time() - (now_rt - running_time) / Gst.SECOND

    def _on_message(self, msg: Gst.Message) -> bool:
        src = msg.src
        if not isinstance(src, Gst.Object) or not (
            src == self.sink or src.has_as_ancestor(self.sink)
        ):
            return False
        if msg.type == Gst.MessageType.ERROR:
            self._drop_input()
            if not self.failed:
                self.failed = True
                err, debug = msg.parse_error()
                log.warning("%s: recording branch error: %s (%s)", self.session.name,
                            err.message, debug)  # the element's own reason, for whoever reads
                self.on_failed(err.message)
            return True
        s = msg.get_structure()
        name = s.get_name() if s is not None else ""
        log.debug("%s: %s %s", self.session.name, name, s.to_string() if s else "")
        if name == "splitmuxsink-fragment-opened":
            self._open[s.get_string("location")] = self._wall(s.get_value("running-time"))
        elif name == "splitmuxsink-fragment-closed":
            location = s.get_string("location")
            end = self._wall(s.get_value("running-time"))
            start = self._open.pop(location, end)
            self.on_closed(Path(location), start, end)
        with self._changed:
            self._messages += 1
            self._changed.notify_all()
        return True

    def _drop_input(self) -> None:
        self._dropping = True
        self.valve.set_property("drop", True)  # caps, segment and EOS still pass

    def open_files(self) -> list[tuple[Path, float]]:
        """Segments opened and never closed (a failed write): (file, start)."""
        return [(Path(f), start) for f, start in self._open.items()]

    # -- control (worker threads) ---------------------------------------------
    def finish(self, timeout: float = 5.0) -> None:
        """Close the open segment properly (EOS through the branch); blocking."""
        self._drop_input()
        if self.failed:
            return
        self._inlet().send_event(Gst.Event.new_eos())
        # On EOS splitmuxsink closes the segment it was in, may open and close one more for
        # what it had queued, then falls silent: wait for nothing open and a quiet moment.
        deadline = time.monotonic() + timeout
        with self._changed:
            while time.monotonic() < deadline:
                seen = self._messages
                self._changed.wait(min(SETTLE_S, max(0.0, deadline - time.monotonic())))
                if seen == self._messages and not self._open:
                    return
        log.warning("%s: segment not closed within %.0fs", self.session.name, timeout)

    def detach(self) -> None:
        """Finish, then take the branch out of a session that goes on (schedule ends, disk
        full); blocking."""
        self.finish()
        tee_pad = self._inlet().get_peer()
        tee = self.session.tee
        if tee_pad is not None and tee is not None:
            tee_pad.unlink(self._inlet())
            tee.release_request_pad(tee_pad)
        for element in (*self.elements, self.sink):
            element.set_state(Gst.State.NULL)
            self.session.pipeline.remove(element)
        if self._on_message in self.session.message_hooks:
            self.session.message_hooks.remove(self._on_message)
        if self.finish in self.session.stop_hooks:
            self.session.stop_hooks.remove(self.finish)
