"""The SIP service's ``Directory`` in PostgreSQL: devices, registrations, channels as
cameras, refusals; online/offline transitions and alarms become stored events."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from adapters.model import Event, Severity
from gb28181.directory import DeviceRecord, Registration
from gb28181.manscdp import CatalogItem
from gb28181.transport import Peer
from hub.auth.credentials import CredentialBox
from hub.ingest.pipeline import adapt_message
from hub.store.writer import BatchWriter, DeadLetter

log = logging.getLogger(__name__)
_REG_COLS = "id, transport, contact_host, contact_port, expires_at, keepalive_s, last_seen, online"


def seal_password(box: CredentialBox, device_id: str, password: str) -> bytes:
    return box.seal(f"gb28181:{device_id}", device_id, password)


def add_device(conn: psycopg.Connection[Any], box: CredentialBox, device_id: str,
               department: str, site: str, password: str, *, name: str = "",
               allow_from: list[str] | None = None, keepalive_s: int = 60,
               system: str = "safecity", kind: str = "device",
               media_transport: str = "udp") -> None:
    """Create or update a device's configuration and sealed password (the config sync)."""
    conn.execute(
        "INSERT INTO gb_devices (id, name, kind, department_id, site_id, source_system,"
        " allow_from, keepalive_s, media_transport) VALUES (%s,%s,%s,%s,%s,%s,%s::cidr[],%s,%s)"
        " ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind,"
        " department_id = excluded.department_id, site_id = excluded.site_id,"
        " source_system = excluded.source_system, allow_from = excluded.allow_from,"
        " keepalive_s = excluded.keepalive_s, media_transport = excluded.media_transport",
        (device_id, name, kind, department, site, system, allow_from or [], keepalive_s,
         media_transport))
    conn.execute(
        "INSERT INTO gb_device_secrets (device_id, sealed) VALUES (%s, %s)"
        " ON CONFLICT (device_id) DO UPDATE SET sealed = excluded.sealed",
        (device_id, seal_password(box, device_id, password)))


def _reg(row: tuple[Any, ...]) -> Registration:
    return Registration(row[0], Peer(row[1] or "UDP", row[2] or "", row[3] or 0), row[4],
                        row[5], row[6], row[7])


class PgDirectory:
    def __init__(self, pool: AsyncConnectionPool, box: CredentialBox, zone: str,
                 source_query: str = "") -> None:
        self.pool, self.box, self.zone = pool, box, zone
        #: appended to each channel's ``gb28181://`` URL: the control address and token
        self.source_query = source_query
        self.writer = BatchWriter()

    async def device(self, device_id: str) -> DeviceRecord | None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT d.id, d.department_id, d.site_id, s.sealed, d.allow_from::text[],"
                " d.enabled FROM gb_devices d LEFT JOIN gb_device_secrets s"
                " ON s.device_id = d.id WHERE d.id = %s", (device_id,))
            row = await cur.fetchone()
        if row is None:
            return None
        password = None
        if row[3] is not None:
            try:
                password = self.box.unseal(bytes(row[3])).get("password")
            except ValueError:
                log.error("sip: %s: stored password does not open with this key", device_id)
        return DeviceRecord(row[0], row[1], row[2], password, tuple(row[4] or ()), row[5])

    async def register(self, device_id: str, peer: Peer, expires_s: int, instance: str) -> bool:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "UPDATE gb_devices n SET transport = %s, contact_host = %s, contact_port = %s,"
                " registered_at = now(), expires_at = now() + make_interval(secs => %s),"
                " last_seen = now(), online = true, instance = %s FROM gb_devices o"
                " WHERE n.id = o.id AND n.id = %s RETURNING o.online",
                (peer.transport, peer.host, peer.port, expires_s, instance, device_id))
            row = await cur.fetchone()
        came_back = row is not None and not row[0]
        if came_back:
            await self._transition(device_id, "online", "registered")
        return came_back

    async def unregister(self, device_id: str, reason: str) -> None:
        async with self.pool.connection() as conn:
            await conn.execute("UPDATE gb_devices SET expires_at = now() WHERE id = %s",
                               (device_id,))
        await self.offline(device_id, reason)

    async def seen(self, device_id: str, peer: Peer) -> bool:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "UPDATE gb_devices n SET last_seen = now(), online = true FROM gb_devices o"
                " WHERE n.id = o.id AND n.id = %s RETURNING o.online", (device_id,))
            row = await cur.fetchone()
        came_back = row is not None and not row[0]
        if came_back:
            await self._transition(device_id, "online", "keepalive")
        return came_back

    async def registration(self, device_id: str) -> Registration | None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_REG_COLS} FROM gb_devices WHERE id = %s AND expires_at > now()",
                (device_id,))
            row = await cur.fetchone()
        return _reg(row) if row else None

    async def online(self, instance: str | None = None) -> list[Registration]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(f"SELECT {_REG_COLS} FROM gb_devices WHERE online")
            return [_reg(r) for r in await cur.fetchall()]

    async def offline(self, device_id: str, reason: str) -> None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "UPDATE gb_devices SET online = false WHERE id = %s AND online RETURNING id",
                (device_id,))
            changed = await cur.fetchone() is not None
        if changed:
            log.warning("sip: %s offline: %s", device_id, reason)
            await self._transition(device_id, "offline", reason)

    async def _transition(self, device_id: str, state: str, reason: str) -> None:
        """An online/offline event, as camera health transitions are."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT department_id, site_id, source_system FROM gb_devices WHERE id = %s",
                (device_id,))
            row = await cur.fetchone()
            if row is None:
                return
            event = Event(
                occurred_at=datetime.now(UTC), source_system=row[2], kind=f"gb_device_{state}",
                severity=Severity.major if state == "offline" else Severity.info,
                department=row[0], site=row[1], device=device_id,
                attributes={"reason": reason})
            await self.writer.write(conn, events=[event], topic="gb28181")

    async def catalog(self, device_id: str, items: list[CatalogItem], complete: bool) -> None:
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "SELECT department_id, site_id, source_system, media_transport FROM gb_devices"
                " WHERE id = %s", (device_id,))
            owner = await cur.fetchone()
            if owner is None:
                return
            for it in items:
                await self._upsert_channel(conn, device_id, owner, it)
            if complete:
                cur = await conn.execute(
                    "UPDATE gb_channels SET retired_at = now(), status = 'RETIRED'"
                    " WHERE device_id = %s AND retired_at IS NULL AND NOT (id = ANY(%s))"
                    " RETURNING camera_id", (device_id, [it.id for it in items]))
                gone = [r[0] for r in await cur.fetchall() if r[0]]
                if gone:
                    await conn.execute("UPDATE cameras SET retired_at = now(), updated_at = now()"
                                       " WHERE id = ANY(%s)", (gone,))
                    log.info("sip: %s: channels retired: %s", device_id, ", ".join(gone))
            await conn.execute(
                "UPDATE gb_devices SET catalog_at = now(), catalog_complete = %s WHERE id = %s",
                (complete, device_id))

    async def _upsert_channel(self, conn: psycopg.AsyncConnection[Any], device_id: str,
                              owner: tuple[Any, ...], it: CatalogItem) -> None:
        dept, site, system, media = owner
        cur = await conn.execute(
            "INSERT INTO cameras (id, name, site_id, department_id, source_system, lat, lon)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET"
            " name = excluded.name, lat = coalesce(excluded.lat, cameras.lat),"
            " lon = coalesce(excluded.lon, cameras.lon), retired_at = NULL, updated_at = now()"
            " WHERE cameras.department_id = excluded.department_id RETURNING id",
            (it.id, it.name, site, dept, system, it.lat, it.lon))
        camera = await cur.fetchone()
        if camera is None:
            log.warning("sip: %s: channel %s is another department's camera id: not taken",
                        device_id, it.id)
        else:
            await conn.execute("SELECT cityhub_set_camera_secret(%s, %s)",
                               (it.id, self.box.seal(
                                   f"gb28181://{device_id}/{it.id}?transport={media}"
                                   f"{self.source_query}",
                                                     None, None)))
        await conn.execute(
            "INSERT INTO gb_channels (device_id, id, camera_id, name, status, civil_code,"
            " parent_id, manufacturer, model, lat, lon) VALUES"
            " (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (device_id, id) DO UPDATE SET"
            " camera_id = excluded.camera_id, name = excluded.name, status = excluded.status,"
            " civil_code = excluded.civil_code, parent_id = excluded.parent_id,"
            " manufacturer = excluded.manufacturer, model = excluded.model, lat = excluded.lat,"
            " lon = excluded.lon, retired_at = NULL, updated_at = now()",
            (device_id, it.id, camera[0] if camera else None, it.name, it.status, it.civil_code,
             it.parent, it.manufacturer, it.model, it.lat, it.lon))

    async def catalog_events(self, device_id: str, items: list[CatalogItem]) -> None:
        """Catalog NOTIFY: DEL retires; ON/OFF/VLOST/DEFECT change status; ADD/UPDATE upsert."""
        upserts = [it for it in items if (it.event or "ADD").upper() in ("ADD", "UPDATE")]
        if upserts:
            await self.catalog(device_id, upserts, complete=False)
        async with self.pool.connection() as conn:
            for it in items:
                ev = (it.event or "").upper()
                if ev == "DEL":
                    await conn.execute(
                        "UPDATE gb_channels SET retired_at = now(), status = 'RETIRED'"
                        " WHERE device_id = %s AND id = %s", (device_id, it.id))
                    await conn.execute("UPDATE cameras SET retired_at = now() WHERE id = %s"
                                       " AND id IN (SELECT camera_id FROM gb_channels WHERE"
                                       " device_id = %s)", (it.id, device_id))
                elif ev in ("ON", "OFF", "VLOST", "DEFECT"):
                    await conn.execute(
                        "UPDATE gb_channels SET status = %s, updated_at = now()"
                        " WHERE device_id = %s AND id = %s", (ev, device_id, it.id))

    async def details(self, device_id: str, kind: str, data: dict[str, object]) -> None:
        column = "info" if kind == "DeviceInfo" else "status"
        async with self.pool.connection() as conn:
            await conn.execute(f"UPDATE gb_devices SET {column} = %s WHERE id = %s",
                               (Jsonb(data), device_id))

    async def alarm(self, device_id: str, body: bytes) -> None:
        """Through the gb28181 adapter and the ingest pipeline, as if it came over MQTT."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT department_id, site_id FROM gb_devices WHERE id = %s", (device_id,))
            row = await cur.fetchone()
            if row is None:
                return
            topic = f"city/{row[0]}/{row[1]}/safecity/native/gb28181"
            # AlarmTime is local time without an offset: read in the configured zone.
            out = adapt_message(topic, body, datetime.now(UTC), ZoneInfo(self.zone))
            events = [await self._on_camera(conn, device_id, e) for e in out.events]
            letters = [DeadLetter(x.topic, x.reason, x.payload) for x in out.letters]
            for x in out.letters:
                log.warning("sip: %s alarm dead-lettered: %s", device_id, x.reason)
            await self.writer.write(conn, events=events, dead_letters=letters, topic=topic)

    @staticmethod
    async def _on_camera(conn: psycopg.AsyncConnection[Any], device_id: str, event: Event
                         ) -> Event:
        """An alarm naming one of the device's channels is that camera's event."""
        cur = await conn.execute(
            "SELECT camera_id FROM gb_channels WHERE device_id = %s AND id = %s"
            " AND camera_id IS NOT NULL", (device_id, event.device))
        row = await cur.fetchone()
        return event.model_copy(update={"camera": row[0]}) if row else event

    async def session_opened(self, call_id: str, device_id: str, channel_id: str, ssrc: str,
                             transport: str, peer: str, instance: str) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO gb_sessions (call_id, device_id, channel_id, ssrc, transport, peer,"
                " instance) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (call_id, device_id, channel_id, ssrc, transport, peer, instance))

    async def session_closed(self, call_id: str, reason: str) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE gb_sessions SET ended_at = now(), end_reason = %s"
                " WHERE call_id = %s AND ended_at IS NULL", (reason[:200], call_id))

    async def refused(self, device_id: str, peer: Peer, reason: str) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO gb_refusals (device_id, peer, reason) VALUES (%s, %s, %s)",
                (device_id[:32], str(peer), reason[:200]))
