"""RTSP/RTSPS pull source: rtspsrc with digest/basic auth, TCP or UDP.

Credentials go to rtspsrc's user-id/user-pw properties (never into logs);
credentials embedded in the URL are moved there too, so that the URL can be
shown redacted.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit, urlunsplit

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

_PROTOCOLS = {"tcp": "tcp", "udp": "udp", "auto": "udp+tcp"}


def redact(url: str) -> str:
    """The URL without user info and query (which may carry secrets)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class RtspSource:
    """Builds the rtspsrc element of one upstream session."""

    def __init__(
        self,
        url: str,
        username: str | None = None,
        password: str | None = None,
        transport: str = "tcp",
    ) -> None:
        parts = urlsplit(url)
        self.username = username or (unquote(parts.username) if parts.username else None)
        self.password = password or (unquote(parts.password) if parts.password else None)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        self.url = urlunsplit((parts.scheme, host, parts.path, parts.query, ""))
        self.display_url = redact(url)
        self.transport = transport

    def make_element(self) -> Gst.Element:
        src = Gst.ElementFactory.make("rtspsrc", None)
        if src is None:
            raise RuntimeError("GStreamer rtspsrc missing: install gstreamer1.0-plugins-good")
        self.configure(src)
        return src

    def configure(self, src: Gst.Element) -> None:
        """Point an rtspsrc at this camera (before it starts)."""
        src.set_property("location", self.url)
        src.set_property("latency", 0)
        src.set_property("protocols", _PROTOCOLS[self.transport])
        src.set_property("tcp-timeout", 5_000_000)  # µs: a silent camera must not hang a connect
        src.set_property("timeout", 3_000_000)  # µs of UDP silence before trying TCP
        src.set_property("drop-on-latency", True)
        if self.username:
            src.set_property("user-id", self.username)
        if self.password:
            src.set_property("user-pw", self.password)
