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
            f'! h264parse ! splitmuxsink max-size-time=60000000000 muxer="mp4mux '
            f'fragment-duration=1000" location={a.out}/{name}-%05d.mp4'
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
