"""GB/T 28181 API: a department sees its own devices, registrations and sessions, and the
channels of cameras it may watch; another department sees none; no password is shown."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from psycopg_pool import AsyncConnectionPool

from devkit.fixtures.hubapi import HubApi
from devkit.fixtures.wait import settle
from devkit.gb28181_device import DeviceSim, make_channels
from gb28181.service import ServiceSettings, SipService
from gb28181.transport import Peer
from hub.gb28181.cascade_store import add_upper
from hub.gb28181.config import Gb28181UpperConfig
from hub.gb28181.control import serve_control
from hub.gb28181.runner import control_token
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


UPPER = "51000000002000000001"


def test_upper_platforms_are_admin_only_with_the_departments_own_shares(
        hub_api: HubApi) -> None:
    box = hub_api.runtime.credentials
    with hub_api.owner() as conn:
        conn.execute("INSERT INTO sites (id, name, department_id) VALUES ('p1', 'P1', 'police'),"
                     " ('t1', 'T1', 'traffic')")
        for cam, site, dept in (("pcam1", "p1", "police"), ("pcam2", "p1", "police"),
                                ("tcam1", "t1", "traffic")):
            conn.execute("INSERT INTO cameras (id, name, site_id, department_id, source_system)"
                         " VALUES (%s, %s, %s, %s, 'safecity')", (cam, f"摄像机 {cam}", site, dept))
        add_upper(conn, box, Gb28181UpperConfig.model_validate({
            "id": UPPER, "name": "省平台", "domain": UPPER[:10], "host": "10.1.0.10",
            "username": "digest-user-abc", "password": "upper-password-xyz", "shares": [
                {"department": "police", "camera": "pcam1",
                 "channel_id": "51010000001310000001", "playback": True},
                {"department": "police", "camera": "pcam2",
                 "channel_id": "51010000001310000002"},
                {"department": "traffic", "camera": "tcam1",
                 "channel_id": "51010000001310000003"}]}), "51010000002000000001")
        conn.execute("UPDATE gb_upper_shares SET revoked_at = now() WHERE camera_id = 'pcam2'")
        conn.execute("UPDATE gb_uppers SET registered = true, last_keepalive_at = now()")
    police, traffic = hub_api.headers("police"), hub_api.headers("traffic")
    r = hub_api.client.get("/api/v1/gb28181/uppers", headers=police)
    assert r.status_code == 200, r.text
    [upper] = r.json()
    assert (upper["id"], upper["name"], upper["registered"], upper["shared"]) == (
        UPPER, "省平台", True, 1)
    assert upper["last_keepalive_at"] is not None
    for secret in ("upper-password-xyz", "digest-user-abc", "sealed"):
        assert secret not in r.text
    shares = hub_api.client.get(f"/api/v1/gb28181/uppers/{UPPER}/shares", headers=police).json()
    assert [(s["channel_id"], s["camera_id"], s["playback"], s["active"]) for s in shares] == [
        ("51010000001310000001", "pcam1", True, True),
        ("51010000001310000002", "pcam2", False, False)]  # revoked, listed last
    # Traffic's admin sees the platform, its own share only.
    assert hub_api.client.get("/api/v1/gb28181/uppers", headers=traffic).json()[0]["shared"] == 1
    theirs = hub_api.client.get(f"/api/v1/gb28181/uppers/{UPPER}/shares", headers=traffic)
    assert [s["camera_id"] for s in theirs.json()] == ["tcam1"]
    assert hub_api.client.get("/api/v1/gb28181/uppers/51000000002000000999/shares",
                              headers=police).status_code == 404
    # Deny by default: an operator (no admin role) and an anonymous caller see nothing.
    hub_api.add_user("police-op", "police", ["operator"])
    op = {"Authorization": f"Bearer {hub_api.login('police-op')['access_token']}"}
    for path in ("uppers", f"uppers/{UPPER}/shares"):
        assert hub_api.client.get(f"/api/v1/gb28181/{path}", headers=op).status_code == 403
        assert hub_api.client.get(f"/api/v1/gb28181/{path}").status_code == 401


DEV2 = "34020000001180000008"


def test_a_channels_recordings_on_its_device_for_who_may_play_them_back(
        hub_api: HubApi) -> None:
    """RecordInfo through the API: asked of a real (simulated) device over SIP by a real
    SIP service, answered over two MESSAGEs; hidden cameras 404, non-GB cameras 404."""
    box = hub_api.runtime.credentials
    channel = make_channels(DEV2, 1)[0].id
    with hub_api.owner() as conn:
        conn.execute("INSERT INTO sites (id, name, department_id) VALUES ('p1', 'P1', 'police')")
        add_device(conn, box, DEV2, "police", "p1", "nvr-password-xyz")
        conn.execute("INSERT INTO cameras (id, name, site_id, department_id, source_system)"
                     " VALUES ('pcam9', 'RTSP cam', 'p1', 'police', 'safecity')")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def up() -> tuple[SipService, DeviceSim, AsyncConnectionPool[Any], Any]:
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(hub_api.owner_dsn, open=False)
        await pool.open()
        service = SipService(ServiceSettings("34020000002000000001", "3402000000", port=0),
                             PgDirectory(pool, box, "Asia/Shanghai"))
        await service.start()
        token = control_token(hub_api.runtime.config)
        _server, task, port = await serve_control(service, token, "127.0.0.1", 0)
        hub_api.runtime.config.gb28181.control_port = port
        sim = DeviceSim(DEV2, "nvr-password-xyz", Peer("UDP", "127.0.0.1", service.s.port),
                        "34020000002000000001", "3402000000", channels=make_channels(DEV2, 1))
        await sim.start()
        assert await sim.register() == 200
        return service, sim, pool, task

    async def down(service: SipService, sim: DeviceSim, pool: Any, task: Any) -> None:
        task.cancel()
        await sim.close()
        await service.close()
        await pool.close()

    parts = asyncio.run_coroutine_threadsafe(up(), loop).result(30)
    try:
        police, traffic = hub_api.headers("police"), hub_api.headers("traffic")
        path = f"/api/v1/gb28181/channels/{channel}/records"
        now = time.time()
        # the catalog (asked after REGISTER) makes the camera
        r = settle(lambda: hub_api.client.get(path, headers=police, params={
            "start": now - 4 * 3600, "end": now}), lambda r: r.status_code != 404, 15, step=0.2)
        assert r.status_code == 200, r.text
        got = r.json()["records"]
        assert [round(x["end"] - x["start"]) for x in got] == [3600, 3540, 2400]
        assert r.json()["device"] == DEV2
        part = hub_api.client.get(path, headers=police,
                                  params={"start": now - 1800, "end": now}).json()["records"]
        assert len(part) == 1  # only what overlaps the window
        assert hub_api.client.get(path, headers=traffic, params={
            "start": now - 3600, "end": now}).status_code == 404
        assert hub_api.client.get("/api/v1/gb28181/channels/pcam9/records", headers=police,
                                  params={"start": now - 3600, "end": now}).status_code == 404
        with hub_api.owner() as conn:
            audited = conn.execute("SELECT count(*) FROM audit_log WHERE action ="
                                   " 'gb28181.records'").fetchone()
        assert audited is not None and audited[0] == 2
    finally:
        asyncio.run_coroutine_threadsafe(down(*parts), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
