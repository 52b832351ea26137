"""ONVIF cameras under the hub's PTZ arbitration (``streams.onvif.ptz`` as a driver).

A driver lives for one command (``hub.ptz.control`` makes one per request), so each call
closes its camera connection when done; the camera's errors become :class:`DriverError`
with the client's message, which names host:port and never the password.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from hub.ptz.drivers import DriverError, Preset, Target
from streams.onvif.url import OnvifError

if TYPE_CHECKING:
    from streams.onvif.ptz import OnvifPtz

T = TypeVar("T")


class OnvifDriver:
    def __init__(self, target: Target) -> None:
        # The ONVIF client (zeep, aiohttp) is imported on first use: a sixth of the hub's
        # start, and a hub restarted under load must serve again within seconds.
        from streams.onvif.ptz import OnvifPtz  # noqa: PLC0415

        self.ptz = OnvifPtz(target.url, target.username, target.password)

    async def _do(self, fn: Callable[[OnvifPtz], Awaitable[T]]) -> T:
        try:
            return await fn(self.ptz)
        except (OnvifError, ValueError) as exc:
            raise DriverError(str(exc)) from exc
        finally:
            await self.ptz.aclose()

    async def continuous_move(self, pan: float, tilt: float, zoom: float) -> None:
        await self._do(lambda p: p.continuous_move(pan, tilt, zoom))

    async def stop(self) -> None:
        await self._do(lambda p: p.stop())

    async def absolute_move(self, pan: float, tilt: float, zoom: float | None) -> None:
        await self._do(lambda p: p.absolute_move(pan, tilt, zoom))

    async def relative_move(self, pan: float, tilt: float, zoom: float) -> None:
        await self._do(lambda p: p.relative_move(pan, tilt, zoom))

    async def presets(self) -> list[Preset]:
        found = await self._do(lambda p: p.presets())
        return [Preset(p.token, p.name) for p in found]

    async def goto_preset(self, token: str) -> None:
        await self._do(lambda p: p.goto_preset(token))

    async def set_preset(self, name: str, token: str | None) -> str:
        return await self._do(lambda p: p.set_preset(name, token))

    async def home(self) -> None:
        await self._do(lambda p: p.home())
