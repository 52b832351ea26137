"""What the cascade sends up unasked, on real sockets with a real store: alarms of shared
cameras (MESSAGE, or NOTIFY in the upper's alarm subscription, filtered by priority) and
catalog NOTIFYs of shared-channel changes for the upper's catalog subscription."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.base import Origin
from adapters.gb28181 import Gb28181Adapter
from core.model import SourceSystem
from devkit.fixtures.wait import until
from gb28181 import manscdp
from tests.test_gb28181_cascade import GB_CAM, LOCAL, SHARED_RTSP, World, scenario, seed


@pytest.fixture
def dsn(store_dsn: str) -> str:
    seed(store_dsn)
    return store_dsn


async def _event(w: World, camera: str, dept: str, kind: str, severity: int,
                 description: str = "") -> str:
    rows = await w.q(
        "INSERT INTO events (id, occurred_at, source_system, kind, severity, department_id,"
        " site_id, camera_id, lat, lon, attributes) VALUES (gen_random_uuid(), now(),"
        " 'safecity', %s, %s, %s, %s, %s, 30.66, 104.06,"
        " jsonb_build_object('description', %s::text))"
        " RETURNING id::text", kind, severity, dept, f"{dept}-s1", camera, description)
    return str(rows[0][0])


async def _ready(w: World) -> None:
    """Registered, and the alarm cursor set (events from now on go up)."""
    assert w.client is not None
    await asyncio.wait_for(w.client.registered.wait(), 10)

    async def cursor() -> bool:
        assert w.client is not None
        return w.client.events._cursor is not None
    assert await until(cursor)


def _rows(w: World, sql: str, n: int) -> Any:
    async def check() -> list[tuple[Any, ...]]:
        rows = await w.q(sql)
        return rows if len(rows) >= n else []
    return until(check, 15)


def _alarms(w: World, n: int) -> Any:
    async def check() -> list[bytes]:
        return w.sim.directory.alarms if len(w.sim.directory.alarms) >= n else []
    return until(check, 15)


def test_alarms_of_shared_cameras_go_up_and_nothing_else(dsn: str) -> None:
    async def body(w: World) -> None:
        await w.start_client()
        await _ready(w)
        first = await _event(w, "cam1", "police", "intrusion", 3, "入侵 & 越界")
        await _event(w, "cam2", "police", "motion", 3)  # police camera not shared
        await _event(w, "cam1", "traffic", "motion", 3)  # not the sharing department
        await _event(w, "tcam", "traffic", "motion", 3)  # the traffic share is void
        last = await _event(w, GB_CAM, "police", "video_loss", 0)  # after the others
        got = await _alarms(w, 2)  # the excluded ones were received before `last`
        docs = [manscdp.read(b) for b in got]
        assert [d.device_id for d in docs] == [SHARED_RTSP, GB_CAM]
        # Our own GB/T 28181 adapter reads what we sent: intrusion, priority 1, position.
        origin = Origin("province", "p", SourceSystem.safecity, datetime.now(UTC))
        events = [Gb28181Adapter().adapt(b, origin).events[0] for b in got]
        assert [(e.kind, int(e.severity)) for e in events] == [("intrusion", 3),
                                                               ("video_loss", 0)]
        assert events[0].attributes["description"] == "入侵 & 越界"
        assert events[0].location is not None and abs(events[0].location.lat - 30.66) < 1e-6
        audit = await _rows(
            w, "SELECT target_id, department, detail->>'event', detail->>'via' FROM audit_log"
               " WHERE action = 'gb_cascade_alarm' ORDER BY seq", 2)
        assert audit == [("cam1", "police", first, "message"),
                         (GB_CAM, "police", last, "message")]
        assert len(w.sim.directory.alarms) == 2
    scenario(dsn, body)


def test_alarm_subscription_gets_notify_in_its_priority_range(dsn: str) -> None:
    async def body(w: World) -> None:
        client = await w.start_client()
        await _ready(w)
        status, call_id = await w.sim.subscribe(
            "Alarm", 60, "<StartAlarmPriority>1</StartAlarmPriority>\r\n"
                         "<EndAlarmPriority>2</EndAlarmPriority>\r\n<AlarmMethod>5</AlarmMethod>")
        assert status == 200 and len(client.events.subs) == 1
        await _event(w, "cam1", "police", "intrusion", 3)  # priority 1, video: wanted
        await _event(w, "cam1", "police", "motion", 0)  # priority 4: outside the range
        await _event(w, "cam1", "police", "video_loss", 3)  # device method (2): not asked
        await _event(w, GB_CAM, "police", "loitering", 2)  # priority 2, video: wanted
        got = await _alarms(w, 2)
        assert [manscdp.read(b).device_id for b in got] == [SHARED_RTSP, GB_CAM]
        vias = await _rows(w, "SELECT detail->>'via' FROM audit_log"
                              " WHERE action = 'gb_cascade_alarm'", 2)
        assert {v[0] for v in vias} == {"notify"}
        # Unsubscribed (Expires: 0): alarms go as MESSAGE again.
        assert (await w.sim.subscribe("Alarm", 0, call_id=call_id))[0] == 200
        assert client.events.subs == {}
        await _event(w, "cam1", "police", "motion", 0)
        assert len(await _alarms(w, 3)) == 3
        assert await until(lambda: w.q("SELECT 1 FROM audit_log WHERE action ="
                                       " 'gb_cascade_alarm' AND detail->>'via' = 'message'"))
    scenario(dsn, body)


def test_catalog_subscription_gets_notify_of_shared_channel_changes(dsn: str) -> None:
    async def body(w: World) -> None:
        client = await w.start_client()
        await _ready(w)
        # A body that is not a query, or a CmdType that cannot be subscribed: refused.
        assert (await w.sim.subscribe("Keepalive"))[0] == 489
        status, _ = await w.sim.subscribe("Catalog", 60)
        assert status == 200
        await w.q("UPDATE gb_upper_shares SET revoked_at = now() WHERE camera_id = 'cam1'"
                  " RETURNING 1")
        # The void share of cam2 (traffic does not own it) made good: police shares it.
        await w.q("UPDATE gb_upper_shares SET department_id = 'police' WHERE camera_id = 'cam2'"
                  " RETURNING 1")
        await w.q("UPDATE cameras SET name = 'renamed' WHERE id = %s RETURNING 1", GB_CAM)

        async def notes() -> set[tuple[str | None, str]]:
            got = {(it.event, it.id) for it in w.sim.directory.catalog_notes}
            return got if len(got) >= 3 else set()
        assert await until(notes, 15) == {("DEL", SHARED_RTSP), ("ADD", "51010000001310000098"),
                                          ("UPDATE", GB_CAM)}
        renamed = [it for it in w.sim.directory.catalog_notes if it.id == GB_CAM]
        assert renamed[0].name == "renamed" and renamed[0].parent == LOCAL
        assert await until(lambda: w.q("SELECT detail FROM audit_log"
                                       " WHERE action = 'gb_cascade_catalog_notify'"))
        assert await until(lambda: w.q("SELECT 1 FROM audit_log"
                                       " WHERE action = 'gb_cascade_subscribe'"))
        assert client.bad_inputs == 0
    scenario(dsn, body)
