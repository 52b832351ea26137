"""Cameras from the hub's store, pulled beside the config's.

Cameras added through the API, accepted from ONVIF discovery or catalogued over
GB/T 28181 live in the hub's store, not in the relay's config. With ``streams.hub_url``
set, the relay asks the hub for them (``GET /api/v1/streams/cameras``, service token)
every ``streams.camera_sync_s`` and adds, removes or re-pulls (URL or login changed)
what differs; the config's cameras always win. Recording policies set through the API
(``PUT /api/v1/cameras/{id}/recording``) come along and take effect on the running relay.
In a relay cluster each node takes the cameras it owns only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

import httpx

from core.http import async_client
from streams.spec import CameraSpec

log = logging.getLogger(__name__)
PATH = "/api/v1/streams/cameras"


class Puller(Protocol):
    specs: dict[str, CameraSpec]

    def add_camera(self, spec: CameraSpec) -> None: ...
    async def remove_camera(self, camera_id: str) -> None: ...
    async def set_recording(self, policies: dict[str, dict[str, Any] | None]) -> None: ...


class StoreCameras:
    def __init__(self, relay: Puller, hub_url: str | None, service_token: str,
                 interval_s: float, owns: Callable[[str], bool] | None = None) -> None:
        self.relay = relay
        self.url = hub_url.rstrip("/") + PATH if hub_url and interval_s > 0 else None
        self.headers = {"Authorization": f"Bearer {service_token}"}
        self.interval_s = interval_s
        self.owns = owns or (lambda _camera: True)
        self.config_ids: set[str] = set(relay.specs)
        self.mine: set[str] = set()  #: cameras this sync added (the config's are never touched)

    async def run(self) -> None:
        """Sync now, then every interval, until cancelled; never raises."""
        if self.url is None:
            return
        async with async_client(timeout=10) as client:
            while True:
                try:
                    r = await client.get(self.url, headers=self.headers)
                    r.raise_for_status()
                    await self.apply(r.json())
                except (httpx.HTTPError, ValueError, TypeError, KeyError) as exc:
                    log.warning("cameras from the hub: %s (keeping the ones pulled)",
                                type(exc).__name__ if "://" in str(exc) else exc)
                await asyncio.sleep(self.interval_s)

    async def apply(self, cameras: list[dict[str, Any]]) -> None:
        wanted = {}
        for c in cameras:
            if c["id"] in self.config_ids or not self.owns(c["id"]):
                continue
            wanted[c["id"]] = CameraSpec(id=c["id"], url=c["url"], username=c.get("username"),
                                         password=c.get("password"),
                                         always_on=bool(c.get("always_on")),
                                         department=c.get("department") or "")
        for camera_id in sorted(self.mine):
            if self.relay.specs.get(camera_id) != wanted.get(camera_id):
                await self.relay.remove_camera(camera_id)
                self.mine.discard(camera_id)
        for camera_id, spec in wanted.items():
            if camera_id not in self.relay.specs:
                self.relay.add_camera(spec)
                self.mine.add(camera_id)
        # Recording policies set through the API, for every camera pulled here (the
        # config's own policies win in the recording service).
        await self.relay.set_recording({c["id"]: c.get("recording") for c in cameras
                                        if c["id"] in self.relay.specs and self.owns(c["id"])})
