"""Pull sources, chosen by URL scheme (go2rtc-like): ``rtsp://``, ``rtsps://``, ``gb28181://``,
``onvif://``."""

from __future__ import annotations

from urllib.parse import urlsplit

from streams.onvif.client import OnvifError
from streams.sources.gb28181 import Gb28181Source
from streams.sources.onvif import OnvifSource
from streams.sources.rtsp import RtspSource

Source = RtspSource | Gb28181Source | OnvifSource

#: URL scheme -> source class; a new kind of camera adds its scheme here.
SOURCES: dict[str, type[Source]] = {
    "rtsp": RtspSource,
    "rtsps": RtspSource,
    "gb28181": Gb28181Source,
    "onvif": OnvifSource,
}


class UnsupportedSource(ValueError):
    """A camera URL whose scheme no pull source handles."""


def source_for(
    url: str, username: str | None = None, password: str | None = None, transport: str = "tcp"
) -> Source:
    scheme = urlsplit(url).scheme.lower()
    cls = SOURCES.get(scheme)
    if cls is None:
        raise UnsupportedSource(
            f"unsupported camera URL scheme {scheme!r}; known: {sorted(SOURCES)}"
        )
    try:
        return cls(url, username=username, password=password, transport=transport)
    except OnvifError as exc:  # a malformed onvif:// URL
        raise UnsupportedSource(str(exc)) from None
