"""The SIP service on real sockets (UDP and TCP on 127.0.0.1) with a real store: digest
registration, keepalive timeout, catalog -> cameras (retiring removed channels), alarms
-> stored events, bad input, and a restarted service taking its devices back."""

from __future__ import annotations

import asyncio
import socket
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from cryptography.fernet import Fernet

from devkit.fixtures.store import PoolWorld
from devkit.fixtures.wait import until
from devkit.gb28181_device import DeviceSim, make_channels
from gb28181.service import ServiceSettings, SipService
from gb28181.transport import Peer
from hub.auth.credentials import CredentialBox
from hub.gb28181.store import PgDirectory, add_device

PLATFORM, DOMAIN = "34020000002000000001", "3402000000"
DEV1, DEV2 = "34020000001320000001", "34020000001320000002"
BOX = CredentialBox(Fernet.generate_key())


def _seed(dsn: str, allow: list[str] | None = None) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO departments (id, name) VALUES ('police', 'Police')")
        conn.execute("INSERT INTO sites (id, name, department_id) VALUES ('s1', 'S1', 'police')")
        add_device(conn, BOX, DEV1, "police", "s1", "secret1", keepalive_s=1)
        add_device(conn, BOX, DEV2, "police", "s1", "secret2", keepalive_s=1,
                   allow_from=allow or [])


class World(PoolWorld):
    def __init__(self, dsn: str) -> None:
        super().__init__(dsn)
        self.service: SipService | None = None
        self.sims: list[DeviceSim] = []

    async def start(self, port: int = 0) -> SipService:
        if self.pool.closed:
            await self.pool.open()
        settings = ServiceSettings(PLATFORM, DOMAIN, port=port, keepalive_s=1,
                                   nonce_secret=b"n" * 32, catalog_timeout_s=2)
        self.service = SipService(settings, PgDirectory(self.pool, BOX, "Asia/Shanghai"))
        await self.service.start()
        return self.service

    async def device(self, device_id: str, password: str, transport: str = "UDP",
                     **kw: Any) -> DeviceSim:
        assert self.service is not None
        sim = DeviceSim(device_id, password, Peer(transport, "127.0.0.1", self.service.s.port),
                        PLATFORM, DOMAIN, **kw)
        await sim.start()
        self.sims.append(sim)
        return sim

    async def begin(self) -> None:
        await self.start()

    async def close(self) -> None:
        for sim in self.sims:
            await sim.close()
        if self.service is not None:
            await self.service.close()
        await super().close()


scenario = World.play  #: run ``body(world)`` in a fresh world


@pytest.fixture
def dsn(store_dsn: str) -> str:
    _seed(store_dsn, allow=["10.9.0.0/16"])
    return store_dsn


@pytest.mark.parametrize("transport", ["UDP", "TCP"])
def test_register_digest_wrong_password_unknown_and_expiry(dsn: str, transport: str) -> None:
    async def body(w: World) -> None:
        bad = await w.device(DEV1, "nope", transport)
        assert await bad.register() == 403
        stranger = await w.device("34020000001329999999", "x", transport)
        assert await stranger.register() == 403
        walled = await w.device(DEV2, "secret2", transport)  # only from 10.9.0.0/16
        assert await walled.register() == 403
        reasons = {r[0]: r[1] for r in await w.q("SELECT device_id, reason FROM gb_refusals")}
        assert reasons[DEV1] == "wrong password"
        assert "unknown" in reasons["34020000001329999999"]
        assert "not allowed" in reasons[DEV2]
        assert not await w.q("SELECT 1 FROM gb_devices WHERE online")

        good = await w.device(DEV1, "secret1", transport, expires=2)
        assert await good.register() == 200
        row = (await w.q("SELECT online, transport FROM gb_devices WHERE id = %s", DEV1))[0]
        assert row == (True, transport)
        # Expiry honoured: no re-registration within 2 s -> offline, with an event.
        await until(lambda: w.q("SELECT 1 FROM gb_devices WHERE id = %s AND NOT online", DEV1))
        await until(lambda: w.q("SELECT 1 FROM events WHERE device_id = %s"  # after the state
                                " AND kind = 'gb_device_offline'", DEV1))
        kinds = [r[0] for r in await w.q(
            "SELECT kind FROM events WHERE device_id = %s ORDER BY occurred_at", DEV1)]
        assert kinds == ["gb_device_online", "gb_device_offline"]
        # A MESSAGE from an expired registration is refused (the device must register).
        assert await good.keepalive() == 403
        assert await good.register(expires=3600) == 200
        assert await good.register(expires=0) == 200  # unregister
        assert (await w.q("SELECT online FROM gb_devices WHERE id = %s", DEV1))[0][0] is False
    scenario(dsn, body)


def test_keepalive_timeout_offline_event_and_reregister(dsn: str) -> None:
    async def body(w: World) -> None:
        sim = await w.device(DEV1, "secret1", keepalive_s=0.3)
        assert await sim.register() == 200
        sim.run_keepalive()
        await until(lambda: sim.keepalives_sent >= 8, timeout=10)
        assert (await w.q("SELECT online FROM gb_devices WHERE id = %s", DEV1))[0][0]
        for t in sim._tasks:  # the device goes silent
            t.cancel()
        started = time.monotonic()
        await until(lambda: w.q("SELECT 1 FROM gb_devices WHERE id = %s AND NOT online", DEV1))
        assert time.monotonic() - started >= 2.0  # three 1 s intervals, not one
        reason = await until(lambda: w.q("SELECT attributes->>'reason' FROM events WHERE kind ="
                                         " 'gb_device_offline'"))  # written after the state
        assert "keepalive" in reason[0][0]
        assert await sim.register() == 200
        await until(lambda: w.q("SELECT 1 FROM gb_devices WHERE id = %s AND online", DEV1))
        n = await w.q("SELECT count(*) FROM events WHERE kind = 'gb_device_online'")
        assert n[0][0] == 2
    scenario(dsn, body)


def test_catalog_becomes_cameras_and_removed_channels_retire(dsn: str) -> None:
    async def body(w: World) -> None:
        assert w.service is not None
        sim = await w.device(DEV1, "secret1", channels=make_channels(DEV1, 5), per_page=2)
        assert await sim.register() == 200  # the service then asks DeviceInfo, Catalog, Status
        cams = await until(lambda: w.q(
            "SELECT id, name, department_id, site_id, lat FROM cameras ORDER BY id"
            " LIMIT (SELECT CASE WHEN count(*) = 5 THEN 5 ELSE 0 END FROM cameras)"))
        assert [c[2] for c in cams] == ["police"] * 5 and cams[0][1] == "模拟通道1"
        assert cams[0][4] == pytest.approx(30.661)
        await until(lambda: w.q("SELECT 1 FROM gb_devices WHERE info->>'Model' = 'SIM-1'"
                                " AND status->>'Online' = 'ONLINE'"))
        secret = await w.q("SELECT count(*) FROM camera_secrets")
        assert secret[0][0] == 5  # each channel's source URL is gb28181://device/channel
        # The NVR loses two channels: the next catalog retires them (never deletes).
        sim.channels = sim.channels[:3]
        assert await w.service.query(DEV1, "Catalog")
        retired = await until(lambda: w.q(
            "SELECT id FROM gb_channels WHERE retired_at IS NOT NULL ORDER BY id"))
        assert len(retired) == 2
        assert (await w.q("SELECT count(*) FROM cameras WHERE retired_at IS NOT NULL"))[0][0] == 2
        assert (await w.q("SELECT count(*) FROM cameras"))[0][0] == 5
    scenario(dsn, body)


def test_incomplete_catalog_retires_nothing(dsn: str) -> None:
    async def body(w: World) -> None:
        assert w.service is not None
        sim = await w.device(DEV1, "secret1", channels=make_channels(DEV1, 4), per_page=2)
        assert await sim.register() == 200
        await until(lambda: w.q("SELECT 1 FROM gb_devices WHERE catalog_complete"))
        # A reply that claims 4 channels but only one page (2) ever arrives.
        sent = sim.channels
        sim.channels = sent[2:]
        sim.per_page = 2
        from gb28181 import manscdp
        page = manscdp.catalog_pages(999, DEV1, sent, per_page=2)[1]
        assert await sim.send_body(page) == 200
        await until(lambda: w.q("SELECT 1 FROM gb_devices WHERE catalog_complete = false"))
        assert not await w.q("SELECT 1 FROM gb_channels WHERE retired_at IS NOT NULL")
    scenario(dsn, body)


def test_alarm_message_becomes_a_stored_event(dsn: str) -> None:
    async def body(w: World) -> None:
        sim = await w.device(DEV1, "secret1", channels=make_channels(DEV1, 1))
        assert await sim.register() == 200
        channel = sim.channels[0].id
        await until(lambda: w.q("SELECT 1 FROM gb_channels WHERE camera_id = %s", channel))
        assert await sim.alarm(channel, method=5, alarm_type=6, priority=1,
                               description="入侵检测报警") == 200
        row = await until(lambda: w.q(
            "SELECT camera_id, device_id, department_id, site_id, attributes->>'description'"
            " FROM events WHERE kind = 'intrusion'"))
        assert row[0] == (channel, channel, "police", "s1", "入侵检测报警")
    scenario(dsn, body)


def _alarm_at(when: str) -> bytes:
    """A GB/T 28181-2016 A.2.5 alarm Notify; AlarmTime is local time without an offset."""
    return (f'<?xml version="1.0" encoding="GB2312"?>\n<Notify><CmdType>Alarm</CmdType>'
            f"<SN>7</SN><DeviceID>{DEV1}</DeviceID><AlarmPriority>1</AlarmPriority>"
            f"<AlarmMethod>5</AlarmMethod><AlarmTime>{when}</AlarmTime>"
            "<AlarmDescription>入侵检测报警</AlarmDescription><Info><AlarmType>6</AlarmType>"
            "<AlarmTypeParam><EventType>2</EventType></AlarmTypeParam></Info></Notify>"
            ).encode("gb2312")


def test_alarm_local_time_is_read_in_the_configured_zone_and_bad_ones_kept(dsn: str) -> None:
    """The SIP path reads AlarmTime in the city's configured zone (not a fixed default),
    and an alarm it cannot adapt is kept as a dead letter with the field in the reason."""
    async def body(w: PoolWorld) -> None:
        await w.pool.open()
        berlin = ZoneInfo("Europe/Berlin")
        local = (datetime.now(UTC) - timedelta(hours=1)).astimezone(berlin)
        local = local.replace(tzinfo=None, microsecond=0)
        directory = PgDirectory(w.pool, BOX, "Europe/Berlin")
        await directory.alarm(DEV1, _alarm_at(local.isoformat()))
        await directory.alarm(DEV1, _alarm_at("9999-12-31T23:59:59"))
        rows = await w.q("SELECT occurred_at, attributes->>'direction' FROM events")
        assert rows == [(local.replace(tzinfo=berlin).astimezone(UTC), "leave")]
        (letter,) = await w.q("SELECT reason, payload FROM dead_letters")
        assert "AlarmTime" in letter[0] and b"9999-12-31" in bytes(letter[1])
    PoolWorld.play(dsn, body)


def test_bad_input_never_stops_the_service_or_other_devices(dsn: str) -> None:
    async def body(w: World) -> None:
        assert w.service is not None
        sim = await w.device(DEV1, "secret1")
        assert await sim.register() == 200
        port = w.service.s.port
        garbage = [b"\x00" * 100, b"REGISTER nothing\r\n\r\n", b"SIP/2.0 200\r\n\r\n",
                   bytes(range(256)) * 10]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for g in garbage:
                s.sendto(g, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"MESSAGE x SIP/2.0\r\nContent-Length: 99999999\r\n\r\n")
        assert await asyncio.wait_for(reader.read(10), 5) == b""  # dropped, nothing else
        writer.close()
        hostile = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
                   b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><Notify><CmdType>Keepalive'
                   b"</CmdType><SN>1</SN><DeviceID>" + DEV1.encode() + b"</DeviceID>"
                   b"<x>&b;</x></Notify>")
        assert await sim.send_body(hostile) == 400
        assert await sim.send_body(b"<Notify>" + b"A" * 60000 + b"</Notify>") in (0, 400)
        assert await sim.alarm(DEV1, method=9) == 200  # answered; the event is dead-lettered
        await until(lambda: w.q("SELECT 1 FROM dead_letters WHERE topic LIKE %s", "%gb28181"))
        assert w.service.bad_inputs >= len(garbage)
        assert await sim.keepalive() == 200  # still serving
    scenario(dsn, body)


def test_restarted_service_takes_its_devices_back(dsn: str) -> None:
    async def body(w: World) -> None:
        assert w.service is not None
        sim = await w.device(DEV1, "secret1", keepalive_s=0.3)
        assert await sim.register() == 200
        sim.run_keepalive()
        port = w.service.s.port
        await w.service.close()
        w.service = None
        await w.start(port=port)  # same address, nothing in memory
        sent = sim.keepalives_sent
        await until(lambda: sim.keepalives_sent >= sent + 5, 10)
        assert await sim.keepalive() == 200  # accepted without a new REGISTER
        assert sim.registered.is_set()
        assert (await w.q("SELECT count(*) FROM events WHERE kind = 'gb_device_offline'"))[
            0][0] == 0
    scenario(dsn, body)
