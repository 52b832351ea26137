"""Departments, sites, cameras and sensors from the configuration into the store's registry."""

from __future__ import annotations

from typing import Any

import psycopg

from hub.config import CityConfig


def _loc(item: Any) -> tuple[float | None, float | None]:
    return (item.location.lat, item.location.lon) if item.location else (None, None)


async def sync_registry(conn: psycopg.AsyncConnection[Any], cfg: CityConfig) -> None:
    """Upsert every configured entity (nothing is deleted: events keep pointing at old ids).

    Camera URLs and passwords are not stored here: credentials have their own
    write-only table.
    """
    async with conn.transaction(), conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO departments (id, name) VALUES (%s, %s) "
            "ON CONFLICT (id) DO UPDATE SET name = excluded.name",
            [(d.id, d.name) for d in cfg.departments],
        )
        await cur.executemany(
            "INSERT INTO sites (id, name, department_id, lat, lon) VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (id) DO UPDATE SET name = excluded.name, "
            "department_id = excluded.department_id, lat = excluded.lat, lon = excluded.lon",
            [(s.id, s.name, s.department, *_loc(s)) for s in cfg.sites],
        )
        await cur.executemany(
            "INSERT INTO cameras (id, name, site_id, department_id, source_system, always_on, "
            "lat, lon, heading, fov) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
            "name = excluded.name, site_id = excluded.site_id, department_id = "
            "excluded.department_id, "
            "source_system = excluded.source_system, always_on = excluded.always_on, "
            "lat = excluded.lat, lon = excluded.lon, heading = excluded.heading, "
            "fov = excluded.fov, updated_at = now()",
            [
                (c.id, c.name, c.site, c.department, c.system.value, c.always_on, *_loc(c),
                 c.heading, c.fov)
                for c in cfg.cameras
            ],
        )
        await cur.executemany(
            "INSERT INTO sensors (id, site_id, department_id, kind, lat, lon, registered) "
            "VALUES (%s, %s, %s, %s, %s, %s, true) ON CONFLICT (id) DO UPDATE SET "
            "site_id = excluded.site_id, department_id = excluded.department_id, "
            "kind = excluded.kind, lat = excluded.lat, lon = excluded.lon, registered = true",
            [(s.id, s.site, s.department, s.kind, *_loc(s)) for s in cfg.sensors],
        )
