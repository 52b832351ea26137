"""Baseline for bench.record: bare GStreamer recorders (no cityhub code).

Per camera ``rtspsrc ! depay ! parse ! timestamper ! splitmuxsink`` (mp4mux, 1 s
fragments, segments of ``--segment-s``: bench.record passes the relay's, so both cut, open
and close as many files; rtspsrc set as the relay sets it, and the timestamper the relay's
recording branch has: a loaded machine gets the odd picture without a time, which mp4mux
refuses): what GStreamer itself costs to record a camera without re-encoding. A recorder
that fails anyway starts again into new files, as the relay's recording branch does.
What it does not do is the relay's product work on each closed segment (sha256, fsync'd
journal line in a hash chain): that stays in the relay's figure.
``python -m bench.record_baseline --upstream rtsp://h:p --cameras a,b --out DIR
--segment-s 10``.
"""

from __future__ import annotations

import argparse
import signal

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402


def _until_keyframe(_pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
    buf = info.get_buffer()
    if buf.has_flags(Gst.BufferFlags.DELTA_UNIT) or buf.pts == Gst.CLOCK_TIME_NONE:
        return Gst.PadProbeReturn.DROP  # (the first units of a session may carry no time)
    return Gst.PadProbeReturn.REMOVE


class Recorder:
    """One camera's bare recorder; restarted after an error (as the relay restarts its
    recording branch), into new files."""

    def __init__(self, upstream: str, name: str, out: str, segment_s: float) -> None:
        self.upstream, self.name, self.out = upstream, name, out
        self.segment_ns = int(segment_s * Gst.SECOND)
        self.restarts = 0
        self.pipeline = self._make()

    def _make(self) -> Gst.Pipeline:
        pipeline = Gst.parse_launch(
            f"rtspsrc location={self.upstream}/{self.name} latency=0 protocols=tcp "
            "drop-on-latency=true ! rtph264depay ! video/x-h264,stream-format=avc,alignment=au "
            "! h264parse name=parse ! video/x-h264,stream-format=avc,alignment=au "
            f"! h264timestamper ! splitmuxsink max-size-time={self.segment_ns} "
            'muxer="mp4mux fragment-duration=1000" '
            f"location={self.out}/{self.name}-r{self.restarts}-%05d.mp4"
        )
        # Start on a timed keyframe (mp4mux refuses what comes before it); the probe then goes.
        pad = pipeline.get_by_name("parse").get_static_pad("src")
        pad.add_probe(Gst.PadProbeType.BUFFER, _until_keyframe)
        bus = pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect("message::error", self._error)
        pipeline.set_state(Gst.State.PLAYING)
        return pipeline

    def _error(self, _bus: Gst.Bus, msg: Gst.Message) -> None:
        print(f"{self.name}: {msg.parse_error()[0].message} (restarting)", flush=True)
        GLib.idle_add(self._restart)

    def _restart(self) -> bool:
        old, self.restarts = self.pipeline, self.restarts + 1
        old.get_bus().remove_signal_watch()
        old.set_state(Gst.State.NULL)
        self.pipeline = self._make()
        return False

    def stop(self) -> None:
        self.pipeline.send_event(Gst.Event.new_eos())
        self.pipeline.get_bus().timed_pop_filtered(3 * Gst.SECOND, Gst.MessageType.EOS)
        self.pipeline.set_state(Gst.State.NULL)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--upstream", required=True)
    p.add_argument("--cameras", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--segment-s", type=float, required=True, help="the relay's segment length")
    a = p.parse_args()
    Gst.init(None)
    recorders = [Recorder(a.upstream, n, a.out, a.segment_s) for n in a.cameras.split(",")]
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    print("ready", flush=True)
    loop.run()
    for rec in recorders:
        rec.stop()
    print(f"restarts: {sum(r.restarts for r in recorders)}", flush=True)


if __name__ == "__main__":
    main()
