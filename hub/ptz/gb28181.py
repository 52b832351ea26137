"""GB/T 28181 channels under the hub's PTZ arbitration: commands go to the SIP service's
control API (``hub/gb28181/control.py``, address and token from the channel's sealed
``gb28181://`` URL), which sends DeviceControl to the device.

ONVIF-normalised values become GB/T 28181's: continuous moves are PTZCmd speeds (pan,
tilt 0-255, zoom 0-15); absolute positions are the 2022 edition's PTZPreciseCtrl in
degrees (pan [-1, 1] -> 0..360, tilt [-1, 1] -> -90..90, zoom [0, 1] -> 1..MAX_ZOOM
times), read back with PTZPosition; relative moves read the position and add to it;
presets are PTZCmd preset numbers (1-255). A device that cannot (2016-edition devices
have no PTZPreciseCtrl) answers with an error, passed on as DriverError.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from core.http import async_client
from hub.ptz.drivers import DriverError, NotSupported, Preset, Target

MAX_ZOOM = 30.0  #: times; the normalised zoom 1.0


def to_degrees(pan: float, tilt: float, zoom: float | None, now_zoom: float = 1.0
               ) -> tuple[float, float, float]:
    """ONVIF-normalised (pan, tilt in [-1, 1], zoom in [0, 1]) -> (deg, deg, times)."""
    pan_deg = ((max(-1.0, min(1.0, pan)) + 1.0) * 180.0) % 360.0
    tilt_deg = max(-1.0, min(1.0, tilt)) * 90.0
    times = now_zoom if zoom is None else 1.0 + max(0.0, min(1.0, zoom)) * (MAX_ZOOM - 1.0)
    return pan_deg, tilt_deg, times


def from_degrees(pan: float, tilt: float, zoom: float) -> tuple[float, float, float]:
    pan_n = (pan % 360.0) / 180.0 - 1.0
    return pan_n, max(-1.0, min(1.0, tilt / 90.0)), max(0.0, min(1.0, (zoom - 1.0) /
                                                                  (MAX_ZOOM - 1.0)))


class Gb28181Driver:
    def __init__(self, target: Target, timeout_s: float = 10.0) -> None:
        url = urlsplit(target.url)
        query = parse_qs(url.query)
        self.device, self.channel = url.netloc, url.path.strip("/")
        self.control = (query.get("control") or [""])[0]
        self.token = (query.get("token") or [""])[0]
        self.timeout_s = timeout_s
        if not (self.device and self.channel and self.control):
            raise NotSupported("this gb28181:// camera has no SIP service control address")

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            async with async_client(timeout=self.timeout_s) as client:
                r = await client.post(f"{self.control}{path}", headers={
                    "Authorization": f"Bearer {self.token}"}, json={
                    "device": self.device, "channel": self.channel, **body})
        except httpx.HTTPError as exc:
            raise DriverError(f"SIP service unreachable: {type(exc).__name__}") from None
        if r.status_code != 200:
            raise DriverError(f"SIP service answered {r.status_code}: "
                              f"{r.json().get('detail', '') if r.content else ''}"[:200])
        return dict(r.json())

    async def continuous_move(self, pan: float, tilt: float, zoom: float) -> None:
        await self._post("/control", {"command": "move", "pan": pan, "tilt": tilt, "zoom": zoom})

    async def stop(self) -> None:
        await self._post("/control", {"command": "stop"})

    async def position(self) -> tuple[float, float, float]:
        """(pan, tilt, zoom) in degrees and times, as the device reports it."""
        got = await self._post("/position", {})
        return float(got["pan"]), float(got["tilt"]), float(got["zoom"])

    async def absolute_move(self, pan: float, tilt: float, zoom: float | None) -> None:
        now_zoom = (await self.position())[2] if zoom is None else 1.0
        p, t, z = to_degrees(pan, tilt, zoom, now_zoom)
        await self._post("/control", {"command": "precise", "pan": p, "tilt": t, "zoom": z})

    async def relative_move(self, pan: float, tilt: float, zoom: float) -> None:
        now = from_degrees(*await self.position())
        await self.absolute_move(now[0] + pan, now[1] + tilt, now[2] + zoom)

    async def presets(self) -> list[Preset]:
        raise NotSupported("GB/T 28181 preset lists (PresetQuery) are not read yet: "
                           "use preset numbers 1-255")

    async def goto_preset(self, token: str) -> None:
        await self._post("/control", {"command": "preset", "op": "goto",
                                      "number": _number(token)})

    async def set_preset(self, name: str, token: str | None) -> str:
        if token is None:
            raise NotSupported("a GB/T 28181 preset needs its number (1-255) as the token")
        await self._post("/control", {"command": "preset", "op": "set",
                                      "number": _number(token)})
        return token

    async def home(self) -> None:
        raise NotSupported("GB/T 28181 home position is a device setting (HomePosition), "
                           "not a move")


def _number(token: str) -> int:
    if not token.isdigit() or not 1 <= int(token) <= 255:
        raise NotSupported("a GB/T 28181 preset is a number 1-255")
    return int(token)
