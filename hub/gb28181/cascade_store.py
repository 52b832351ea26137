"""Upper platforms and upward shares in PostgreSQL (migration 0016_gb_cascade): the
cascade client's ``CascadeDirectory``, the config sync, and the audit of upward views."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from gb28181.cascade import SharedChannel, UpperSettings, UpwardAlarm
from hub.audit import chain
from hub.auth.credentials import CredentialBox
from hub.gb28181.config import Gb28181Config, Gb28181UpperConfig

log = logging.getLogger(__name__)
STATE_COLUMNS = ("registered", "registered_at", "last_keepalive_at", "last_error", "catalog_at",
                 "catalog_sent", "catalog_total")
#: A share counts only while its department owns the camera and the camera is in service.
_SHARED = (
    "SELECT s.channel_id, c.id, c.department_id, c.name, coalesce(ch.status, 'ON'),"
    " ch.civil_code, c.lat, c.lon, ch.manufacturer, ch.model, s.playback FROM gb_upper_shares s"
    " JOIN cameras c ON c.id = s.camera_id AND c.department_id = s.department_id"
    " LEFT JOIN gb_channels ch ON ch.camera_id = c.id AND ch.retired_at IS NULL"
    " WHERE s.upper_id = %s AND s.revoked_at IS NULL AND c.retired_at IS NULL")
#: Events of shared cameras from the sharing department (what it granted), fresh ones only:
#: an upper that was away gets at most ``ALARM_BACKLOG`` of them, not the day's history.
_ALARMS = (
    "SELECT e.id::text, s.channel_id, c.id, c.department_id, e.occurred_at, e.kind,"
    " e.severity, coalesce(e.attributes->>'description', ''), e.lat, e.lon, e.received_at"
    " FROM gb_upper_shares s"
    " JOIN cameras c ON c.id = s.camera_id AND c.department_id = s.department_id"
    " JOIN events e ON e.camera_id = c.id AND e.department_id = s.department_id"
    " WHERE s.upper_id = %(upper)s AND s.revoked_at IS NULL AND c.retired_at IS NULL"
    " AND e.occurred_at > %(since)s - interval '1 day' AND e.received_at > %(since)s"
    " AND e.received_at > now() - interval '5 minutes' ORDER BY e.received_at LIMIT 200")


def seal_upper_password(box: CredentialBox, upper_id: str, username: str, password: str
                        ) -> bytes:
    return box.seal(f"gb28181-upper:{upper_id}", username, password)


def add_upper(conn: psycopg.Connection[Any], box: CredentialBox, u: Gb28181UpperConfig,
              local_id: str, actor: str = "config") -> None:
    """Create or update an upper platform, its sealed password and exactly its shares."""
    username = u.username or local_id
    conn.execute(
        "INSERT INTO gb_uppers (id, name, domain, host, port, transport, local_id, username,"
        " expires_s, keepalive_s, max_missed, enabled) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,"
        "%s,%s) ON CONFLICT (id) DO UPDATE SET name = excluded.name, domain = excluded.domain,"
        " host = excluded.host, port = excluded.port, transport = excluded.transport,"
        " local_id = excluded.local_id, username = excluded.username,"
        " expires_s = excluded.expires_s, keepalive_s = excluded.keepalive_s,"
        " max_missed = excluded.max_missed, enabled = excluded.enabled",
        (u.id, u.name, u.domain, u.host, u.port, u.transport, local_id, username, u.expires_s,
         u.keepalive_s, u.max_missed, u.enabled))
    conn.execute(
        "INSERT INTO gb_upper_secrets (upper_id, sealed) VALUES (%s, %s)"
        " ON CONFLICT (upper_id) DO UPDATE SET sealed = excluded.sealed",
        (u.id, seal_upper_password(box, u.id, username, u.password.get_secret_value())))
    for s in u.shares:
        conn.execute(
            "INSERT INTO gb_upper_shares (upper_id, camera_id, department_id, channel_id,"
            " created_by, playback) VALUES (%s,%s,%s,%s,%s,%s) ON CONFLICT (upper_id, camera_id)"
            " DO UPDATE SET department_id = excluded.department_id,"
            " channel_id = excluded.channel_id, playback = excluded.playback,"
            " revoked_at = NULL, revoked_by = NULL",
            (u.id, s.camera, s.department, s.channel_id, actor, s.playback))
    conn.execute(
        "UPDATE gb_upper_shares SET revoked_at = now(), revoked_by = %s WHERE upper_id = %s"
        " AND revoked_at IS NULL AND NOT (camera_id = ANY(%s))",
        (actor, u.id, [s.camera for s in u.shares]))


def sync_uppers(conn: psycopg.Connection[Any], box: CredentialBox, g: Gb28181Config) -> None:
    for u in g.uppers:
        add_upper(conn, box, u, u.local_id or g.platform_id)


def load_uppers(conn: psycopg.Connection[Any], box: CredentialBox, g: Gb28181Config,
                zone: str = "Asia/Shanghai") -> list[UpperSettings]:
    """Enabled upper platforms with their passwords unsealed (for the digest answer only)."""
    rows = conn.execute(
        "SELECT u.id, u.domain, u.host, u.port, u.local_id, u.username, s.sealed, u.transport,"
        " u.expires_s, u.keepalive_s, u.max_missed, u.name FROM gb_uppers u"
        " JOIN gb_upper_secrets s ON s.upper_id = u.id WHERE u.enabled ORDER BY u.id").fetchall()
    out = []
    for r in rows:
        password = box.unseal(bytes(r[6]))["password"] or ""
        out.append(UpperSettings(
            upper_id=r[0], domain=r[1], host=r[2], port=r[3], local_id=r[4], username=r[5],
            password=password, transport=r[7], expires_s=r[8], keepalive_s=r[9],
            max_missed=r[10], name=r[11] or "cityhub", local_host=g.cascade_host,
            local_port=g.cascade_port, media_host=g.media_host, zone=zone))
    return out


def _channel(r: tuple[Any, ...]) -> SharedChannel:
    return SharedChannel(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10])


class PgCascadeDirectory:
    def __init__(self, pool: AsyncConnectionPool, dsn: str) -> None:
        self.pool, self.dsn = pool, dsn

    async def shared(self, upper_id: str) -> list[SharedChannel]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(_SHARED + " ORDER BY s.channel_id", (upper_id,))
            return [_channel(r) for r in await cur.fetchall()]

    async def shared_channel(self, upper_id: str, channel_id: str) -> SharedChannel | None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(_SHARED + " AND s.channel_id = %s", (upper_id, channel_id))
            row = await cur.fetchone()
            return _channel(row) if row else None

    async def alarms_since(self, upper_id: str, since: datetime | None
                           ) -> tuple[list[UpwardAlarm], datetime]:
        async with self.pool.connection() as conn:
            if since is None:
                cur = await conn.execute("SELECT now()")
                row = await cur.fetchone()
                assert row is not None
                return [], row[0]
            cur = await conn.execute(_ALARMS, {"upper": upper_id, "since": since})
            rows = await cur.fetchall()
        alarms = [UpwardAlarm(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10])
                  for r in rows]
        return alarms, max([since, *(a.received_at for a in alarms if a.received_at)])

    async def state(self, upper_id: str, **fields: object) -> None:
        cols = {k: v for k, v in fields.items() if k in STATE_COLUMNS}
        for k in ("last_keepalive_at", "catalog_at"):
            if isinstance(value := cols.get(k), float):
                cols[k] = datetime.fromtimestamp(value, UTC)
        if cols.get("registered") is True:
            cols["registered_at"] = datetime.now(UTC)
        if not cols:
            return
        sets = ", ".join(f"{k} = %s" for k in cols)
        async with self.pool.connection() as conn:
            await conn.execute(f"UPDATE gb_uppers SET {sets} WHERE id = %s",
                               (*cols.values(), upper_id))

    async def audit(self, upper_id: str, action: str, channel: SharedChannel | None,
                    detail: dict[str, object]) -> None:
        """One audit entry: the actor is the upper platform, the target the camera."""
        await asyncio.to_thread(self._audit, upper_id, action, channel, detail)

    def _audit(self, upper_id: str, action: str, channel: SharedChannel | None,
               detail: dict[str, object]) -> None:
        with psycopg.connect(self.dsn) as conn, conn.transaction():
            chain.append(
                conn, actor=f"gb28181-upper:{upper_id}", action=action,
                target_type="camera" if channel else "gb28181-upper",
                target_id=channel.camera_id if channel else upper_id,
                department=channel.department if channel else None,
                detail={**detail, **({"channel": channel.channel_id} if channel else {})})
