"""The recording branch of one upstream session: tee -> queue -> timestamper -> splitmuxsink.

The tee carries what mp4mux takes (length-prefixed access units from the session's one
parser, streams/core/upstream.py): the branch parses nothing again (a bare
``depay ! parse ! splitmuxsink`` recorder parses once too). Frames never pass through Python:
splitmuxsink cuts fragmented MP4 segments on
keyframes (no re-encoding), and Python only hears of each segment being opened and
closed (bus messages) and names its file. A failing write (disk full, path gone)
is claimed here and never fails the camera's live view: the branch drops its input
and reports ``on_failed``.
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

from streams.core.upstream import UpstreamSession, until_keyframe  # noqa: E402

log = logging.getLogger(__name__)

SETTLE_S = 0.3  # quiet time after which a finishing branch has closed all it will
OnClosed = Callable[[Path, float, float], None]  # file, start wall s, end wall s


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
        self.queue = Gst.ElementFactory.make("queue")
        self.queue.set_property("max-size-time", 5 * Gst.SECOND)
        self.queue.set_property("max-size-buffers", 0)
        self.queue.set_property("max-size-bytes", 0)
        self.queue.set_property("leaky", 2)  # a slow disk drops frames here, never stalls live
        self.overruns = 0  # times the queue was full and dropped (a disk too slow)
        self.queue.connect("overrun", self._overrun)
        # A loaded relay sometimes gets two pictures in one access unit from the camera's
        # RTP (a late packet dropped): the parser splits them and the second has no time,
        # which mp4mux refuses (the segment failed, a gap). The timestamper gives it one.
        stamper = Gst.ElementFactory.make(f"{codec}timestamper")
        self.elements = [self.queue] if stamper is None else [self.queue, stamper]
        mux = Gst.ElementFactory.make("mp4mux")
        mux.set_property("fragment-duration", fragment_ms)  # a crash loses at most a fragment
        self.sink = Gst.ElementFactory.make("splitmuxsink")
        self.sink.set_property("muxer", mux)
        self.sink.set_property("max-size-time", int(segment_s * Gst.SECOND))
        self.sink.set_property("async-finalize", False)
        self.sink.connect("format-location", self._format_location)
        self._drop_probe: int | None = None

    def attach(self) -> None:
        """Link to the session's tee (before or while it flows)."""
        pipeline, tee = self.session.pipeline, self.session.tee
        assert tee is not None  # listeners run once the session is linked
        chain = [*self.elements, self.sink]
        for element in chain:
            pipeline.add(element)
        for a, b in zip(chain, chain[1:], strict=False):
            a.link(b)
        for element in reversed(chain):
            element.sync_state_with_parent()
        self.queue.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, until_keyframe)
        self.session.message_hooks.append(self._on_message)
        self.session.stop_hooks.append(self.finish)
        tee.link(self.queue)

    # -- GStreamer threads ---------------------------------------------------
    def _overrun(self, _queue: Gst.Element) -> None:
        self.overruns += 1

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
                self.on_failed(msg.parse_error()[0].message)
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
        if self._drop_probe is None:
            pad = self.queue.get_static_pad("sink")
            self._drop_probe = pad.add_probe(
                Gst.PadProbeType.BUFFER, lambda *_: Gst.PadProbeReturn.DROP
            )

    def open_files(self) -> list[tuple[Path, float]]:
        """Segments opened and never closed (a failed write): (file, start)."""
        return [(Path(f), start) for f, start in self._open.items()]

    # -- control (worker threads) ---------------------------------------------
    def finish(self, timeout: float = 5.0) -> None:
        """Close the open segment properly (EOS through the branch); blocking."""
        self._drop_input()
        if self.failed:
            return
        self.queue.get_static_pad("sink").send_event(Gst.Event.new_eos())
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
        tee_pad = self.queue.get_static_pad("sink").get_peer()
        tee = self.session.tee
        if tee_pad is not None and tee is not None:
            tee_pad.unlink(self.queue.get_static_pad("sink"))
            tee.release_request_pad(tee_pad)
        for element in (*self.elements, self.sink):
            element.set_state(Gst.State.NULL)
            self.session.pipeline.remove(element)
        if self._on_message in self.session.message_hooks:
            self.session.message_hooks.remove(self._on_message)
        if self.finish in self.session.stop_hooks:
            self.session.stop_hooks.remove(self.finish)
