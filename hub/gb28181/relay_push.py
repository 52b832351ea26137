"""The cascade's ``MediaPusher``: asks the relay that owns a camera to send it as PS over
RTP to an upper platform (``POST /gb28181/push/{camera}``) and to stop (``DELETE``), with
the relay's service token. The relay sends what it already pulls: no re-encoding."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from core.http import async_client
from gb28181.cascade_media import PushError, PushHandle


class RelayPusher:
    def __init__(self, base_of: Callable[[str], str], headers: dict[str, str],
                 timeout_s: float = 15.0) -> None:
        #: camera id -> the HTTP base of the relay that owns it (``hub.relays.relay_bases``)
        self.base_of = base_of
        self.headers, self.timeout_s = headers, timeout_s
        self._bases: dict[str, str] = {}

    async def start(self, camera_id: str, host: str, port: int, mode: str, ssrc: int,
                    window: tuple[float, float] | None = None) -> PushHandle:
        base = self.base_of(camera_id)
        body: dict[str, object] = {"host": host, "port": port, "transport": mode, "ssrc": ssrc}
        if window is not None:
            body["start"], body["end"] = window
        try:
            async with async_client(timeout=self.timeout_s) as client:
                r = await client.post(f"{base}/gb28181/push/{camera_id}", json=body,
                                      headers=self.headers)
        except httpx.HTTPError as exc:
            raise PushError(f"relay unreachable: {exc}") from None
        if r.status_code != 201:
            detail = r.json().get("detail") if r.headers.get("content-type", "").startswith(
                "application/json") else r.text[:200]
            raise PushError(f"relay answered {r.status_code}: {detail}")
        data = r.json()
        self._bases[str(data["id"])] = base
        return PushHandle(str(data["id"]), int(data["port"]))

    async def records(self, camera_id: str, start: float, end: float
                      ) -> list[tuple[float, float]]:
        """The camera's recorded spans in [start, end] (none when not recorded)."""
        base = self.base_of(camera_id)
        try:
            async with async_client(timeout=self.timeout_s) as client:
                r = await client.get(f"{base}/gb28181/recordings/{camera_id}", headers=self.headers,
                                     params={"start": start, "end": end})
        except httpx.HTTPError as exc:
            raise PushError(f"relay unreachable: {exc}") from None
        if r.status_code == 404:
            return []
        if r.status_code != 200:
            raise PushError(f"relay answered {r.status_code}")
        return [(float(a), float(b)) for a, b in r.json()["spans"]]

    async def ended(self, push_id: str) -> str | None:
        """Why the push ended (``end of recording``...), None while it sends."""
        base = self._bases.get(push_id)
        if base is None:
            return "stopped"
        try:
            async with async_client(timeout=self.timeout_s) as client:
                r = await client.get(f"{base}/gb28181/push/{push_id}", headers=self.headers)
        except httpx.HTTPError as exc:
            raise PushError(f"relay unreachable: {exc}") from None
        if r.status_code == 404:
            return "gone from the relay"
        return r.json().get("ended") if r.status_code == 200 else None

    async def control(self, push_id: str, method: str, scale: float | None,
                      npt: float | None) -> None:
        """Pause, resume, speed or seek a recorded push (the upper's MANSRTSP)."""
        base = self._bases.get(push_id)
        if base is None:
            raise PushError(f"no push {push_id}")
        try:
            async with async_client(timeout=self.timeout_s) as client:
                r = await client.post(f"{base}/gb28181/push/{push_id}/control",
                                      headers=self.headers,
                                      json={"method": method, "scale": scale, "npt": npt})
        except httpx.HTTPError as exc:
            raise PushError(f"relay unreachable: {exc}") from None
        if r.status_code != 200:
            raise PushError(f"relay answered {r.status_code}")

    async def stop(self, push_id: str) -> None:
        base = self._bases.pop(push_id, None)
        if base is None:
            return
        try:
            async with async_client(timeout=self.timeout_s) as client:
                await client.delete(f"{base}/gb28181/push/{push_id}", headers=self.headers)
        except httpx.HTTPError as exc:
            raise PushError(f"relay unreachable: {exc}") from None
