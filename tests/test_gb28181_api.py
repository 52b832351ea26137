"""GB/T 28181 API: a department sees its own devices, registrations and sessions, and the
channels of cameras it may watch; another department sees none; no password is shown."""

from __future__ import annotations

import asyncio
from typing import Any

from psycopg_pool import AsyncConnectionPool

from devkit.fixtures.hubapi import HubApi
from devkit.gb28181_device import make_channels
from hub.gb28181.store import PgDirectory, add_device

DEV = "34020000001320000007"


def test_devices_channels_sessions_are_the_departments_own(hub_api: HubApi) -> None:
    box = hub_api.runtime.credentials
    with hub_api.owner() as conn:
        conn.execute("INSERT INTO sites (id, name, department_id) VALUES ('p1', 'P1', 'police')")
        add_device(conn, box, DEV, "police", "p1", "device-password-xyz", name="东门NVR")

    async def catalog() -> None:
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(hub_api.owner_dsn, open=False)
        await pool.open()
        d = PgDirectory(pool, box, "Asia/Shanghai")
        await d.catalog(DEV, make_channels(DEV, 3), complete=True)
        await d.session_opened("call-1", DEV, make_channels(DEV, 1)[0].id, "0200001234", "udp",
                               "127.0.0.1:30000", "i1")
        await pool.close()
    asyncio.run(catalog())

    police, traffic = hub_api.headers("police"), hub_api.headers("traffic")
    r = hub_api.client.get("/api/v1/gb28181/devices", headers=police)
    assert r.status_code == 200, r.text
    assert [(d["id"], d["name"], d["department"]) for d in r.json()] == [(DEV, "东门NVR",
                                                                            "police")]
    assert "device-password-xyz" not in r.text and "sealed" not in r.text
    channels = hub_api.client.get("/api/v1/gb28181/channels", headers=police).json()
    assert len(channels) == 3 and channels[0]["camera_id"] == channels[0]["id"]
    sessions = hub_api.client.get("/api/v1/gb28181/sessions", headers=police).json()
    assert [s["call_id"] for s in sessions] == ["call-1"]
    cams = hub_api.client.get("/api/v1/cameras", headers=police).json()
    assert {c["id"] for c in cams} >= {c["id"] for c in channels}
    for path in ("devices", "channels", "sessions", "registrations"):
        got = hub_api.client.get(f"/api/v1/gb28181/{path}", headers=traffic)
        assert got.status_code == 200 and got.json() == [], path
