"""Baseline for bench.relay: a bare GStreamer passthrough relay (no cityhub code).

One shared gst-rtsp-server media per camera: rtspsrc ! depay ! parse ! pay,
the cheapest way GStreamer itself re-serves a camera. Run as its own process:
``python -m bench.relay_baseline --port P --upstream rtsp://h:p --cameras a,b``.
"""

from __future__ import annotations

import argparse
import signal

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upstream", required=True, help="rtsp://host:port of the cameras")
    p.add_argument("--cameras", required=True)
    a = p.parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(a.port))
    mounts = server.get_mount_points()
    for name in a.cameras.split(","):
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(
            f"( rtspsrc location={a.upstream}/{name} latency=0 protocols=tcp "
            "! rtph264depay ! h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 )"
        )
        factory.set_shared(True)
        mounts.add_factory(f"/{name}", factory)
    if not server.attach(None):
        raise SystemExit("baseline relay: cannot listen")
    loop = GLib.MainLoop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    print("baseline: ready", flush=True)
    loop.run()


if __name__ == "__main__":
    main()
