"""An RTSP server whose listening socket can be re-bound at once after a crash.

gst-rtsp-server binds without SO_REUSEADDR, so a server killed while readers
were connected left the port in TIME_WAIT and a restart on the same port
failed for a minute. This subclass creates the socket itself (SO_REUSEADDR,
never SO_REUSEPORT: two live servers must still not share a port).
"""

from __future__ import annotations

import socket

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gio, GObject, GstRtspServer  # noqa: E402


class ReusableRTSPServer(GstRtspServer.RTSPServer):
    """RTSPServer that listens with SO_REUSEADDR (same-port restarts work)."""

    def do_create_socket(self, cancellable: Gio.Cancellable | None) -> Gio.Socket:
        host = self.get_address() or "127.0.0.1"
        port = int(self.get_service() or 0)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(self.get_backlog() or 128)
            sock.setblocking(False)
            gsock = Gio.Socket.new_from_fd(sock.detach())
        except OSError as exc:
            sock.close()
            raise GObject.GError(f"cannot listen on {host}:{port}: {exc}") from exc
        return gsock
