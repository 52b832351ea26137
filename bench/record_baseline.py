"""Baseline for bench.record: bare GStreamer recorders (no cityhub code).

Per camera ``rtspsrc ! depay ! parse ! splitmuxsink`` (mp4mux, 1 s fragments, 60 s
segments): what GStreamer itself costs to record a camera without re-encoding.
``python -m bench.record_baseline --upstream rtsp://h:p --cameras a,b --out DIR``.
"""

from __future__ import annotations

import argparse
import signal

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402


def _until_keyframe(_pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
    if info.get_buffer().has_flags(Gst.BufferFlags.DELTA_UNIT):
        return Gst.PadProbeReturn.DROP
    return Gst.PadProbeReturn.REMOVE


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--upstream", required=True)
    p.add_argument("--cameras", required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    Gst.init(None)
    pipelines = []
    for name in a.cameras.split(","):
        pipeline = Gst.parse_launch(
            f"rtspsrc location={a.upstream}/{name} latency=0 protocols=tcp ! rtph264depay "
            "! video/x-h264,stream-format=avc,alignment=au "
            f'! h264parse name=parse ! splitmuxsink max-size-time=60000000000 muxer="mp4mux '
            f'fragment-duration=1000" location={a.out}/{name}-%05d.mp4'
        )
        # Start on a keyframe (mp4mux refuses what comes before it); the probe then goes.
        pad = pipeline.get_by_name("parse").get_static_pad("src")
        pad.add_probe(Gst.PadProbeType.BUFFER, _until_keyframe)
        bus = pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect(
            "message::error",
            lambda _b, m, n=name: print(f"{n}: {m.parse_error()[0].message}", flush=True),
        )
        pipeline.set_state(Gst.State.PLAYING)
        pipelines.append(pipeline)
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    print("ready", flush=True)
    loop.run()
    for pipeline in pipelines:
        pipeline.send_event(Gst.Event.new_eos())
        pipeline.get_bus().timed_pop_filtered(3 * Gst.SECOND, Gst.MessageType.EOS)
        pipeline.set_state(Gst.State.NULL)


if __name__ == "__main__":
    main()
