"""Dead letters through the API on a real PostgreSQL: each department's admins read their own
letters (the topic's department, or the department of the record the store refused), with
the reason, a preview and the payload as received; every read is audited; another
department's letters stay out under row-level security as well as in the query."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from adapters.model import Event
from devkit.fixtures.hubapi import HubApi
from hub.api.runtime import api_dsn
from hub.store import migrate
from hub.store.writer import BatchWriter, DeadLetter

POLICE_TOPIC = "city/police/police-s0/safecity/native/isapi"
RAW = b"<EventNotificationAlert>\xff\xfe not xml"


def _write(dsn: str, **batch: Any) -> None:
    async def go() -> None:
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            await BatchWriter().write(conn, topic="ingest", **batch)

    asyncio.run(go())


def _letters(hub: HubApi, department: str, **query: Any) -> list[dict[str, Any]]:
    r = hub.client.get("/api/v1/dead-letters", headers=hub.headers(department), params=query)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def test_each_department_reads_its_own_dead_letters_and_every_read_is_audited(
    hub_api: HubApi,
) -> None:
    future = datetime.now(UTC) + timedelta(days=2)  # outside the store's accepted window
    refused = Event(occurred_at=future, kind="alarm", source_system="traffic",
                    department="traffic", site="traffic-s0")
    _write(hub_api.owner_dsn, events=[refused], dead_letters=[
        DeadLetter(POLICE_TOPIC, "not well-formed XML (line 1)", RAW),
        DeadLetter("ingest", "a message from nowhere known", b"?"),
    ])

    police = _letters(hub_api, "police")
    assert [(x["topic"], x["reason"], x["payload_size"]) for x in police] == [
        (POLICE_TOPIC, "not well-formed XML (line 1)", len(RAW))]
    assert police[0]["preview"] == RAW.decode("utf-8", "replace")
    traffic = _letters(hub_api, "traffic")
    assert len(traffic) == 1 and "in the future" in traffic[0]["reason"]
    assert str(refused.id) in traffic[0]["preview"]  # the refused record itself
    assert _letters(hub_api, "bus") == []  # nothing of its own; the unowned letter: SQL only
    assert _letters(hub_api, "police", topic_prefix="city/traffic/") == []
    assert _letters(hub_api, "police", reason="XML") == police

    r = hub_api.client.get(f"/api/v1/dead-letters/{police[0]['id']}/payload",
                           headers=hub_api.headers("police"))
    assert r.status_code == 200 and r.content == RAW
    assert r.headers["content-type"] == "application/octet-stream"
    hidden = hub_api.client.get(f"/api/v1/dead-letters/{traffic[0]['id']}/payload",
                                headers=hub_api.headers("police"))
    assert hidden.status_code == 404

    summary = hub_api.client.get("/api/v1/dead-letters/summary",
                                 headers=hub_api.headers("police"), params={"hours": 24}).json()
    assert summary["total"] == 1 and len(summary["per_hour"]) == 24
    assert summary["per_hour"][-1]["n"] == 1  # this hour
    assert summary["by_topic"] == [{"topic": POLICE_TOPIC, "n": 1,
                                    "last_reason": "not well-formed XML (line 1)"}]

    with hub_api.owner() as conn:
        actions = [r[0] for r in conn.execute(
            "SELECT action FROM audit_log WHERE actor_department = 'police'"
            " AND action LIKE 'dead_letters.%' ORDER BY seq").fetchall()]
        unowned = conn.execute("SELECT count(*) FROM dead_letters"
                               " WHERE department_id IS NULL").fetchone()
    assert actions == ["dead_letters.read"] * 3 + ["dead_letters.payload", "dead_letters.summary"]
    assert unowned == (1,)


def test_only_admins_read_dead_letters(hub_api: HubApi) -> None:
    hub_api.add_user("police-watch", "police", ["operator", "analyst", "auditor"])
    token = hub_api.login("police-watch")["access_token"]
    for path in ("/api/v1/dead-letters", "/api/v1/dead-letters/summary",
                 "/api/v1/dead-letters/1/payload"):
        r = hub_api.client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 403, (path, r.text)


def test_row_level_security_keeps_other_departments_letters_from_the_api_role(
    hub_api: HubApi,
) -> None:
    """Even a query that forgets its department filter sees only its own letters."""
    _write(hub_api.owner_dsn, dead_letters=[
        DeadLetter(POLICE_TOPIC, "p", b"p"),
        DeadLetter("city/traffic/traffic-s0/traffic/native/anpr-json", "t", b"t"),
    ])
    with psycopg.connect(api_dsn(hub_api.config), autocommit=True) as conn:
        conn.execute("SELECT set_config('cityhub.department', 'police', false)")
        seen = conn.execute("SELECT topic FROM dead_letters").fetchall()
    assert seen == [(POLICE_TOPIC,)]


def test_the_migration_gives_earlier_letters_their_topics_department(pg_dsn: str) -> None:
    migrate.upgrade(pg_dsn, "0022_camera_secret_parts")
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO dead_letters (topic, reason, payload, payload_size) VALUES"
                     " ('city/bus/depot/bus/native/bus-json', 'r', 'x', 1),"
                     " ('gb28181', 'r', 'x', 1)")
    migrate.upgrade(pg_dsn)
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute("SELECT topic, department_id FROM dead_letters ORDER BY id").fetchall()
    assert rows == [("city/bus/depot/bus/native/bus-json", "bus"), ("gb28181", None)]
