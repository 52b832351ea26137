"""Read-only store queries go to ``database.read_url``; everything else stays on the primary.

No streaming replica here: the "replica" is a second database holding different rows,
so which one answered is visible (a real replica would hold the primary's rows, late).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from adapters.model import Event
from devkit.fixtures.hubapi import build_hub, seed_city
from devkit.fixtures.services import PgServer
from hub.store import migrate
from hub.store.writer import BatchWriter


def test_searches_use_the_read_replica(pg_dsn: str, pg_server: PgServer, tmp_path: Path) -> None:
    replica = pg_server.create_database()
    try:
        migrate.upgrade(replica)
        marker = Event(occurred_at=datetime.now(UTC) - timedelta(minutes=2),
                       source_system="safecity", kind="only_on_replica",
                       department="police", site="police-s0")

        async def write() -> None:
            async with await psycopg.AsyncConnection.connect(replica) as conn:
                await BatchWriter().write(conn, events=[marker])

        asyncio.run(write())
        hub = build_hub(pg_dsn, tmp_path / "state", read_url=replica)
        try:
            with hub.client:
                seed_city(hub)  # written to the primary
                h = hub.headers("police")  # login: the primary's users
                params = {"start": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
                          "end": datetime.now(UTC).isoformat()}
                r = hub.client.get("/api/v1/events", params=params, headers=h)
                assert r.status_code == 200, r.text
                assert [e["kind"] for e in r.json()["items"]] == ["only_on_replica"]
                # Reading one event by id (and its audit) stays on the primary.
                assert hub.client.get(f"/api/v1/events/{marker.id}", headers=h).status_code == 404
        finally:
            hub.runtime.close()
    finally:
        pg_server.drop_database(replica)
