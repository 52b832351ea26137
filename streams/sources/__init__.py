"""Pull sources, chosen by URL scheme (go2rtc-like): ``rtsp://``, ``rtsps://``, ``gb28181://``,
``onvif://``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from core.secret_files import read_camera_credentials
from streams.onvif.url import OnvifError
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


def element_factory(
    url: str,
    username: str | None = None,
    password: str | None = None,
    credentials_file: Path | None = None,
    transport: str = "tcp",
) -> tuple[Callable[[], Any], str]:
    """(make the upstream element, URL safe to show). With ``credentials_file`` the login
    is read at every (re)connect, so rewriting the file rotates it without a restart."""
    source = source_for(url, username, password, transport)
    if credentials_file is None:
        return source.make_element, source.display_url

    def make() -> Any:
        user, secret = read_camera_credentials(credentials_file)
        return source_for(url, user, secret, transport).make_element()

    return make, source.display_url
