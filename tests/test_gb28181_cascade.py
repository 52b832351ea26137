"""Cascade to an upper platform on real sockets (127.0.0.1) with a real store: the hub
registers to a simulated province platform with digest (and again after it restarts),
answers its Catalog with exactly the shared cameras, audits what it sees, and survives
malformed SIP from it."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import httpx
import psycopg
import pytest
from pydantic import ValidationError

from devkit.fixtures.store import PoolWorld
from devkit.fixtures.streams import SERVICE
from devkit.fixtures.wait import until
from devkit.gb28181_upper import UpperSim
from gb28181.calls import InviteError
from gb28181.cascade import CascadeClient, UpperSettings
from gb28181.cascade_media import MediaPusher, PushHandle
from hub.gb28181.cascade_store import PgCascadeDirectory, add_upper, load_uppers
from hub.gb28181.config import Gb28181Config, Gb28181UpperConfig
from hub.gb28181.relay_push import RelayPusher
from tests.test_gb28181_service import BOX

UPPER, UPPER_DOMAIN = "51000000002000000001", "5100000000"
LOCAL = "51010000002000000001"
GB_CAM = "51010000001310000001"  #: a police camera with a GB/T 28181 ID
SHARED_RTSP = "51010000001310000099"  #: the channel ID the upper sees for police's cam1


class NoPush:
    """Registration and catalog tests send no video."""

    async def start(self, camera_id: str, host: str, port: int, mode: str, ssrc: int,
                    window: tuple[float, float] | None = None) -> PushHandle:
        raise AssertionError("no INVITE expected")

    async def ended(self, push_id: str) -> str | None:
        return None

    async def records(self, camera_id: str, start: float, end: float
                      ) -> list[tuple[float, float]]:
        return []

    async def control(self, push_id: str, method: str, scale: float | None,
                      npt: float | None) -> None:
        raise AssertionError("no playback expected")

    async def stop(self, push_id: str) -> None:
        return None


def seed(dsn: str, password: str = "province-pw") -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for dept in ("police", "traffic"):
            conn.execute("INSERT INTO departments (id, name) VALUES (%s, %s)", (dept, dept))
            conn.execute("INSERT INTO sites (id, name, department_id) VALUES (%s, %s, %s)",
                         (f"{dept}-s1", dept, dept))
        for cam, dept in ((GB_CAM, "police"), ("cam1", "police"), ("cam2", "police"),
                          ("tcam", "traffic")):
            conn.execute("INSERT INTO cameras (id, name, site_id, department_id, source_system)"
                         " VALUES (%s, %s, %s, %s, 'safecity')", (cam, f"名称 {cam}",
                                                                  f"{dept}-s1", dept))
        upper = Gb28181UpperConfig.model_validate({
            "id": UPPER, "domain": UPPER_DOMAIN, "host": "127.0.0.1", "port": 5060,
            "password": password, "keepalive_s": 1, "shares": [
                {"department": "police", "camera": GB_CAM},
                {"department": "police", "camera": "cam1", "channel_id": SHARED_RTSP},
                # traffic does not own cam2: this row shares nothing
                {"department": "traffic", "camera": "cam2",
                 "channel_id": "51010000001310000098"},
            ]})
        add_upper(conn, BOX, upper, LOCAL)


class World(PoolWorld):
    def __init__(self, dsn: str) -> None:
        super().__init__(dsn)
        self.upper: UpperSim | None = None
        self.client: CascadeClient | None = None

    @property
    def sim(self) -> UpperSim:
        """The upper platform, once ``start_upper`` ran."""
        if self.upper is None:
            raise AssertionError("start_upper() first")
        return self.upper

    async def start_upper(self, port: int = 0, password: str = "province-pw") -> UpperSim:
        self.upper = UpperSim(UPPER, UPPER_DOMAIN, LOCAL, password, port=port)
        await self.upper.start()
        return self.upper

    def settings(self) -> UpperSettings:
        assert self.upper is not None
        with psycopg.connect(self.dsn) as conn:
            (s,) = load_uppers(conn, BOX, Gb28181Config())
        s.port, s.keepalive_s, s.max_missed, s.retry_s, s.per_page = (
            self.upper.port, 0.3, 2, 0.3, 1)
        return s

    async def start_client(self, pusher: MediaPusher | None = None, **settings: float
                           ) -> CascadeClient:
        await self.pool.open()
        s = self.settings()
        for name, value in settings.items():
            setattr(s, name, value)
        self.client = CascadeClient(s, PgCascadeDirectory(self.pool, self.dsn),
                                    pusher or NoPush())
        await self.client.start()
        return self.client

    async def begin(self) -> None:
        await self.start_upper()

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()
        if self.upper is not None:
            await self.upper.close()
        await super().close()


scenario = World.play  #: run ``body(world)`` in a fresh world


@pytest.fixture
def dsn(store_dsn: str) -> str:
    seed(store_dsn)
    return store_dsn


def test_registers_with_digest_and_again_after_the_upper_restarts(dsn: str) -> None:
    async def body(w: World) -> None:
        client = await w.start_client()
        await asyncio.wait_for(client.registered.wait(), 10)
        assert LOCAL in w.sim.directory.regs
        assert w.sim.directory.refusals == []
        assert await until(lambda: w.q("SELECT 1 FROM gb_uppers WHERE id = %s AND registered"
                                       " AND last_keepalive_at IS NOT NULL", UPPER))
        # The province restarts and forgets us: the next keepalive gets 403 -> REGISTER.
        port = w.sim.port
        await w.sim.close()
        fresh = await restart_on(w, port)

        async def back() -> bool:
            return LOCAL in fresh.directory.regs
        assert await until(back, 15)
        assert client.registrations >= 2
    scenario(dsn, body)


async def restart_on(w: World, port: int, timeout: float = 10.0) -> UpperSim:
    """The upper again on its port (which another test may hold for a moment)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await w.start_upper(port=port)
        except OSError:
            await w.sim.close()
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)  # pacing retries while another test holds the port


def test_wrong_password_is_refused_and_retried(store_dsn: str) -> None:
    seed(store_dsn, password="not-the-province-pw")

    async def body(w: World) -> None:
        client = await w.start_client()

        async def refused() -> bool:
            return len(w.sim.directory.refusals) >= 2  # refused, and tried again
        assert await until(refused, 10)
        assert not client.registered.is_set()
        rows = await w.q("SELECT registered, last_error FROM gb_uppers WHERE id = %s", UPPER)
        assert rows == [(False, "REGISTER answered 403")]
    scenario(store_dsn, body)


def test_catalog_lists_exactly_the_shared_cameras_and_is_audited(dsn: str) -> None:
    async def body(w: World) -> None:
        client = await w.start_client()
        await asyncio.wait_for(client.registered.wait(), 10)

        async def catalog() -> list[Any]:
            return w.sim.directory.catalogs  # the upper asks Catalog after a REGISTER
        items = (await until(catalog))[0]
        assert sorted(it.id for it in items) == [GB_CAM, SHARED_RTSP]  # cam2, tcam absent
        assert {it.name for it in items} == {f"名称 {GB_CAM}", "名称 cam1"}
        assert all(it.parent == LOCAL for it in items)

        async def details() -> bool:
            return {"DeviceInfo", "DeviceStatus"} <= set(w.sim.directory.answers)
        assert await until(details)
        assert w.sim.directory.answers["DeviceInfo"]["Channel"] == "2"
        state = await until(lambda: w.q("SELECT catalog_sent, catalog_total FROM gb_uppers"
                                        " WHERE catalog_at IS NOT NULL"))
        assert state == [(2, 2)]
        audit = await until(lambda: w.q("SELECT actor, action, detail FROM audit_log"
                                        " WHERE action = 'gb_cascade_catalog'"))
        assert audit[0][0] == f"gb28181-upper:{UPPER}"
        assert sorted(audit[0][2]["channels"]) == [GB_CAM, SHARED_RTSP]
        # Revoked: the next catalog no longer lists it.
        await w.q("UPDATE gb_upper_shares SET revoked_at = now() WHERE camera_id = 'cam1'"
                  " RETURNING 1")
        assert await w.sim.catalog()
        items = (await until(lambda: _nth(w, 2)))[1]
        assert [it.id for it in items] == [GB_CAM]
    scenario(dsn, body)


def test_catalog_pages_the_upper_drops_are_sent_again_until_complete(dsn: str) -> None:
    async def body(w: World) -> None:
        w.sim.ignore_catalog_pages(7)  # the first page: 3 attempts, 3 more, then 1
        await w.start_client(catalog_retry_s=0.05, message_timeout_s=0.3)
        partial = await until(lambda: w.q("SELECT catalog_sent, catalog_total FROM gb_uppers"
                                          " WHERE catalog_at IS NOT NULL"))
        assert partial == [(0, 2)]  # shown incomplete while it is sent again
        items = (await until(lambda: _nth(w, 1)))[0]
        assert sorted(it.id for it in items) == [GB_CAM, SHARED_RTSP]
        done = await until(lambda: w.q("SELECT catalog_sent, catalog_total FROM gb_uppers"
                                       " WHERE catalog_sent = 2"))
        assert done == [(2, 2)]
    scenario(dsn, body)


async def _nth(w: World, n: int) -> list[Any]:
    return w.sim.directory.catalogs if len(w.sim.directory.catalogs) >= n else []


def test_malformed_sip_from_the_upper_never_stops_the_client(dsn: str) -> None:
    async def body(w: World) -> None:
        client = await w.start_client()
        await asyncio.wait_for(client.registered.wait(), 10)
        port = client.s.local_port
        frm = f"<sip:{UPPER}@{UPPER_DOMAIN}>;tag=x"
        head = (f"Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKbad\r\nFrom: {frm}\r\n"
                f"To: <sip:{LOCAL}@{UPPER_DOMAIN}>\r\nCall-ID: bad{{n}}\r\n")
        hostile = [
            b"\x00\xff garbage",
            b"MESSAGE sip:x SIP/2.0\r\nVia: x\r\n\r\n",  # headers missing
            b"INVITE sip:a SIP/2.0\r\n" + b"X-A: b\r\n" * 100 + b"\r\n",
            (f"MESSAGE sip:{LOCAL}@x SIP/2.0\r\n" + head.format(n=1)
             + "CSeq: 1 MESSAGE\r\nContent-Length: 9999\r\n\r\n<Query>").encode(),
            (f"MESSAGE sip:{LOCAL}@x SIP/2.0\r\n" + head.format(n=2)
             + "CSeq: 1 MESSAGE\r\nContent-Length: 22\r\n\r\n<Query><CmdType>Catal").encode(),
            (f"INVITE sip:{GB_CAM}@x SIP/2.0\r\n" + head.format(n=3)
             + "CSeq: 1 INVITE\r\nContent-Length: 8\r\n\r\nv=0\r\nm=x").encode(),
            b"SIP/2.0 200 OK\r\n\r\n",
        ]
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            for data in hostile:
                sock.sendto(data, ("127.0.0.1", port))
        finally:
            sock.close()

        async def counted() -> bool:
            return client.bad_inputs >= 5
        assert await until(counted)
        # Still a lower platform of the province: keepalive answered, catalog answered.
        assert await client.keepalive() == 200
        before = len(w.sim.directory.catalogs)
        assert await w.sim.catalog()
        assert await until(lambda: _nth(w, before + 1))
    scenario(dsn, body)


# -- live video upward (through a real relay process pulling a synthetic RTSP camera) ------

def _pushes(relay: Any) -> list[dict[str, Any]]:
    return list(httpx.get(f"{relay.http}/gb28181/push", headers=SERVICE, timeout=10).json())


@pytest.mark.parametrize("transport", ["udp", "tcp-passive", "tcp-active"])
def test_invite_sends_ps_over_rtp_bye_stops_it_unshared_is_404(
        dsn: str, cameras: Any, relay_factory: Any, transport: str) -> None:
    relay = relay_factory({"cam1": cameras.url("cam1")}, idle_close_s=1)
    pusher = RelayPusher(lambda _camera: relay.http, SERVICE)

    async def body(w: World) -> None:
        client = await w.start_client(pusher)
        await asyncio.wait_for(client.registered.wait(), 10)
        dialog, sink = await w.sim.play(SHARED_RTSP, transport)
        try:
            async def video() -> bool:
                return sink.frames >= 30 and sink.keyframes >= 1
            assert await until(video, 20), (sink.packets, sink.frames)
            assert sink.codecs == {"h264"}
            assert dialog.answer.ssrc == dialog.ssrc and dialog.answer.direction == "sendonly"
            views = await w.q("SELECT actor, target_id, department, detail->>'channel'"
                              " FROM audit_log WHERE action = 'gb_cascade_view'")
            assert views == [(f"gb28181-upper:{UPPER}", "cam1", "police", SHARED_RTSP)]
            # BYE from the upper stops the RTP at once: the relay's push ends, then the
            # camera, unwatched, goes idle; nothing arrived after the push ended.
            assert await w.sim.stop(dialog)
            assert await until(lambda: asyncio.to_thread(lambda: not _pushes(relay)), 10)
            after = sink.packets
            state = await asyncio.to_thread(relay.wait_state, "cam1", "idle", 15)
            assert state["state"] == "idle"
            assert sink.packets == after
            assert await until(lambda: w.q("SELECT detail->>'reason' FROM audit_log"
                                           " WHERE action = 'gb_cascade_view_end'"))
        finally:
            sink.close()
        # Not shared (another department's share of police's camera; an unknown ID): 404.
        for channel in ("51010000001310000098", "51010000001310000097"):
            with pytest.raises(InviteError, match="404"):
                await w.sim.play(channel, transport)
        refused = await w.q("SELECT detail->>'channel' FROM audit_log"
                            " WHERE action = 'gb_cascade_invite_refused' ORDER BY seq")
        assert [r[0] for r in refused] == ["51010000001310000098", "51010000001310000097"]
        # Shared, but no relay serves it: refused with 503, not a crash.
        with pytest.raises(InviteError, match="503"):
            await w.sim.play(GB_CAM, transport)
        assert await client.keepalive() == 200
    scenario(dsn, body)


def test_a_share_needs_a_gb_channel_id() -> None:
    upper = {"id": UPPER, "domain": UPPER_DOMAIN, "host": "10.1.0.10", "password": "p"}
    with pytest.raises(ValidationError, match="channel_id"):
        Gb28181UpperConfig.model_validate({**upper, "shares": [
            {"department": "police", "camera": "cam1"}]})
    ok = Gb28181UpperConfig.model_validate({**upper, "shares": [
        {"department": "police", "camera": GB_CAM}]})
    assert ok.shares[0].channel_id == GB_CAM
    assert "p" not in repr(ok.password)
