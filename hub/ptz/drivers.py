"""What the hub asks of a PTZ camera, whatever protocol it speaks, and which driver speaks it.

A driver is chosen by the scheme of the camera's URL (as stream sources are); a protocol
module registers its factory with :func:`register`. Arbitration (``hub.ptz.arbitration``)
sits in front of every driver alike, so each protocol obeys the same leases and locks.

Values are normalised as ONVIF does: pan and tilt in [-1, 1] (speeds for continuous
moves, positions for absolute, steps for relative), zoom in [-1, 1] (speed, step) or
[0, 1] (absolute position).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit


class NotSupported(Exception):
    """The camera (or the hub for this kind of camera) cannot do this PTZ command."""


class DriverError(Exception):
    """The camera was asked but did not do it (unreachable, refused, timed out)."""


@dataclass(frozen=True)
class Preset:
    token: str  #: the camera's id of the preset
    name: str


class PtzDriver(Protocol):
    async def continuous_move(self, pan: float, tilt: float, zoom: float) -> None: ...
    async def stop(self) -> None: ...
    async def absolute_move(self, pan: float, tilt: float, zoom: float | None) -> None: ...
    async def relative_move(self, pan: float, tilt: float, zoom: float) -> None: ...
    async def presets(self) -> list[Preset]: ...
    async def goto_preset(self, token: str) -> None: ...
    async def set_preset(self, name: str, token: str | None) -> str:
        """Store the current position as ``name`` (over ``token`` if given); its token."""
        ...

    async def home(self) -> None: ...


@dataclass(frozen=True)
class Target:
    """A camera as a driver needs it (URL and credentials are unsealed only for this)."""

    camera_id: str
    url: str
    username: str | None = None
    password: str | None = None

    def __repr__(self) -> str:  # never print credentials (the URL may carry a password)
        return f"Target({self.camera_id!r}, scheme={urlsplit(self.url).scheme!r})"


DriverFactory = Callable[[Target], PtzDriver]

#: URL scheme -> driver factory; a protocol module adds its scheme with :func:`register`.
DRIVERS: dict[str, DriverFactory] = {}
#: Schemes the hub knows it cannot steer yet, and why (answered as-is to the caller).
UNSUPPORTED: dict[str, str] = {
    "rtsp": "an RTSP URL carries video only; PTZ needs the camera's control protocol (ONVIF)",
    "rtsps": "an RTSP URL carries video only; PTZ needs the camera's control protocol (ONVIF)",
}


def register(scheme: str, factory: DriverFactory) -> None:
    DRIVERS[scheme.lower()] = factory


def driver_for(target: Target) -> PtzDriver:
    """The driver for ``target``'s URL scheme; :class:`NotSupported` when there is none."""
    scheme = urlsplit(target.url).scheme.lower()
    factory = DRIVERS.get(scheme)
    if factory is None:
        raise NotSupported(UNSUPPORTED.get(scheme, f"no PTZ driver for {scheme or 'this'} URLs"))
    return factory(target)
