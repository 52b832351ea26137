"""What the SIP service needs from where devices live (the store, in ``hub.gb28181``).

A protocol, so the SIP logic here has no database in it and the store's
implementation can be swapped (tests of pure logic use an in-memory one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from gb28181.manscdp import CatalogItem
from gb28181.transport import Peer


@dataclass(frozen=True)
class DeviceRecord:
    id: str
    department: str
    site: str
    password: str | None  #: unsealed for the digest check only; never logged
    allow_from: tuple[str, ...] = ()  #: networks (CIDR) it may register from; empty: any
    enabled: bool = True


@dataclass(frozen=True)
class Registration:
    device_id: str
    peer: Peer
    expires_at: datetime
    keepalive_s: int
    last_seen: datetime
    online: bool


class Directory(Protocol):
    async def device(self, device_id: str) -> DeviceRecord | None: ...

    async def register(self, device_id: str, peer: Peer, expires_s: int, instance: str
                       ) -> bool:
        """Record a registration; True when the device was offline before (an event)."""

    async def unregister(self, device_id: str, reason: str) -> None: ...

    async def seen(self, device_id: str, peer: Peer) -> bool:
        """A keepalive; True if it brought the device back online (an event)."""

    async def registration(self, device_id: str) -> Registration | None: ...

    async def online(self, instance: str | None = None) -> list[Registration]: ...

    async def offline(self, device_id: str, reason: str) -> None: ...

    async def catalog(self, device_id: str, items: list[CatalogItem], complete: bool) -> None:
        """Upsert channels (cameras); when ``complete``, retire those not listed."""

    async def catalog_events(self, device_id: str, items: list[CatalogItem]) -> None:
        """Apply a catalog NOTIFY's ADD/DEL/UPDATE/ON/OFF items."""

    async def details(self, device_id: str, kind: str, data: dict[str, object]) -> None: ...

    async def alarm(self, device_id: str, body: bytes) -> None: ...

    async def session_opened(self, call_id: str, device_id: str, channel_id: str, ssrc: str,
                             transport: str, peer: str, instance: str) -> None: ...

    async def session_closed(self, call_id: str, reason: str) -> None: ...

    async def refused(self, device_id: str, peer: Peer, reason: str) -> None: ...
