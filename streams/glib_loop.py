"""The process's GLib main loop, in a thread of its own (RTSP server, GStreamer)."""

from __future__ import annotations

import threading

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

_lock = threading.Lock()
_loop: GLib.MainLoop | None = None


def ensure_glib_loop() -> GLib.MainLoop:
    """Initialise GStreamer and run the default GLib main context once per process."""
    global _loop
    with _lock:
        if _loop is None:
            Gst.init(None)
            _loop = GLib.MainLoop()
            threading.Thread(target=_loop.run, name="glib-main", daemon=True).start()
        return _loop
