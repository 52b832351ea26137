"""Pull sources, chosen by URL scheme (go2rtc-like): ``rtsp://``, ``rtsps://``."""

from __future__ import annotations

from urllib.parse import urlsplit

from streams.sources.rtsp import RtspSource

#: URL scheme -> source class; a new kind of camera adds its scheme here.
SOURCES = {"rtsp": RtspSource, "rtsps": RtspSource}


class UnsupportedSource(ValueError):
    """A camera URL whose scheme no pull source handles."""


def source_for(
    url: str, username: str | None = None, password: str | None = None, transport: str = "tcp"
) -> RtspSource:
    scheme = urlsplit(url).scheme.lower()
    cls = SOURCES.get(scheme)
    if cls is None:
        raise UnsupportedSource(
            f"unsupported camera URL scheme {scheme!r}; known: {sorted(SOURCES)}"
        )
    return cls(url, username=username, password=password, transport=transport)
