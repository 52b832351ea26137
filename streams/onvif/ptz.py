"""PTZ of one ONVIF camera: the calls the hub's PTZ arbitration drives (``hub.ptz``).

Values are ONVIF's generic spaces: pan and tilt in [-1, 1] (speeds for continuous
moves, positions for absolute, steps for relative), zoom in [-1, 1] (speed, step) or
[0, 1] (absolute position). Out-of-range values raise ``ValueError``; anything the
camera does not do raises :class:`OnvifError`. Each call is bounded by ``timeout_s``.

    ptz = OnvifPtz("onvif://admin:pw@10.0.0.5:80")
    await ptz.continuous_move(0.5, 0.0, 0.0)
    await ptz.stop()
    await ptz.aclose()
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streams.onvif.client import DEFAULT_TIMEOUT_S, OnvifDevice
from streams.onvif.url import OnvifError, OnvifUrl


@dataclass(frozen=True)
class Preset:
    token: str  #: the camera's id of the preset
    name: str


@dataclass(frozen=True)
class PtzStatus:
    pan: float
    tilt: float
    zoom: float
    moving: bool


def _check(name: str, value: float, low: float = -1.0, high: float = 1.0) -> float:
    if not low <= value <= high:
        raise ValueError(f"{name} {value} is outside [{low:g}, {high:g}]")
    return float(value)


def _vector(pan: float, tilt: float, zoom: float | None, zoom_low: float = -1.0) -> dict:
    out: dict[str, Any] = {"PanTilt": {"x": _check("pan", pan), "y": _check("tilt", tilt)}}
    if zoom is not None:
        out["Zoom"] = {"x": _check("zoom", zoom, zoom_low)}
    return out


class OnvifPtz:
    """PTZ driver for an ``onvif://`` camera; the profile is the URL's (first with PTZ
    when the URL names none). Keeps its connection between calls: ``aclose()`` it."""

    def __init__(self, url: str, username: str | None = None, password: str | None = None,
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.url = OnvifUrl.parse(url, username, password)
        self.device = OnvifDevice.from_url(self.url, timeout_s)
        self._profile: str | None = None

    def __repr__(self) -> str:
        return f"OnvifPtz({self.url.display})"

    async def aclose(self) -> None:
        await self.device.aclose()

    async def _token(self) -> str:
        if self._profile is None:
            chosen = await self.device.profile(self.url.profile)
            if not chosen.ptz:
                found = [p for p in await self.device.profiles() if p.ptz]
                if not found:
                    raise OnvifError(f"{self.url.display}: the camera has no PTZ profile")
                chosen = found[0]
            self._profile = chosen.token
        return self._profile

    async def _ptz(self, op: str, **params: Any) -> Any:
        request = {"ProfileToken": await self._token(), **params}
        return await self.device.call(op, "ptz", lambda s: getattr(s, op)(request))

    async def continuous_move(self, pan: float, tilt: float, zoom: float,
                              timeout_s: float | None = None) -> None:
        """Move at these speeds until :meth:`stop` (or ``timeout_s``, a camera-side stop)."""
        extra = {} if timeout_s is None else {"Timeout": f"PT{timeout_s:g}S"}
        await self._ptz("ContinuousMove", Velocity=_vector(pan, tilt, zoom), **extra)

    async def stop(self) -> None:
        await self._ptz("Stop", PanTilt=True, Zoom=True)

    async def absolute_move(self, pan: float, tilt: float, zoom: float | None) -> None:
        await self._ptz("AbsoluteMove", Position=_vector(pan, tilt, zoom, zoom_low=0.0))

    async def relative_move(self, pan: float, tilt: float, zoom: float) -> None:
        await self._ptz("RelativeMove", Translation=_vector(pan, tilt, zoom))

    async def status(self) -> PtzStatus:
        r = await self._ptz("GetStatus")
        try:
            pos = r.Position
            moving = r.MoveStatus is not None and "MOVING" in (
                str(r.MoveStatus.PanTilt), str(r.MoveStatus.Zoom))
            zoom = float(pos.Zoom.x) if pos.Zoom is not None else 0.0
            return PtzStatus(float(pos.PanTilt.x), float(pos.PanTilt.y), zoom, moving)
        except (AttributeError, TypeError, ValueError):
            raise OnvifError(f"{self.url.display}: GetStatus: malformed answer "
                             "(no pan/tilt position)") from None

    async def presets(self) -> list[Preset]:
        answer = await self._ptz("GetPresets")
        return [Preset(str(p.token), str(p.Name or p.token)) for p in answer or []
                if getattr(p, "token", None)]

    async def goto_preset(self, token: str) -> None:
        await self._ptz("GotoPreset", PresetToken=token)

    async def set_preset(self, name: str, token: str | None = None) -> str:
        """Store the current position as ``name`` (over ``token`` if given); its token."""
        extra = {} if token is None else {"PresetToken": token}
        answer = await self._ptz("SetPreset", PresetName=name, **extra)
        if not answer:
            raise OnvifError(f"{self.url.display}: SetPreset: malformed answer (no token)")
        return str(answer)

    async def home(self) -> None:
        await self._ptz("GotoHomePosition")
