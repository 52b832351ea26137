"""Pull sources, chosen by URL scheme (go2rtc-like): ``rtsp://``, ``rtsps://``, ``gb28181://``."""

from __future__ import annotations

from urllib.parse import urlsplit

from streams.sources.gb28181 import Gb28181Source
from streams.sources.rtsp import RtspSource

#: URL scheme -> source class; a new kind of camera adds its scheme here.
SOURCES: dict[str, type[RtspSource] | type[Gb28181Source]] = {
    "rtsp": RtspSource,
    "rtsps": RtspSource,
    "gb28181": Gb28181Source,
}


class UnsupportedSource(ValueError):
    """A camera URL whose scheme no pull source handles."""


def source_for(
    url: str, username: str | None = None, password: str | None = None, transport: str = "tcp"
) -> RtspSource | Gb28181Source:
    scheme = urlsplit(url).scheme.lower()
    cls = SOURCES.get(scheme)
    if cls is None:
        raise UnsupportedSource(
            f"unsupported camera URL scheme {scheme!r}; known: {sorted(SOURCES)}"
        )
    return cls(url, username=username, password=password, transport=transport)
