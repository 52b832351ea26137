"""The demo city's ingest part: a worker and simulated traffic from every city system."""

from __future__ import annotations

from pathlib import Path

import psycopg

from devkit.demo.ingest import start_ingest
from devkit.demo.stack import Stack
from devkit.embedded import EmbeddedBroker
from devkit.fixtures.wait import settle
from hub.store.scalar import scalar

SYSTEMS = {"safecity", "traffic", "overload", "citymgmt", "bus", "edge"}


def test_demo_ingest_stores_traffic_from_every_system(
    migrated_dsn: str, private_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    (tmp_path / "city.yaml").write_text("ingest: {batch_max_delay_ms: 50}\n")
    stack = Stack(tmp_path)
    try:
        urls = start_ingest(stack, tmp_path, migrated_dsn, private_broker.url)
        assert "ingest metrics" in urls

        def stored() -> tuple[set[str], int]:
            assert not stack.failed(), stack.failed()
            with psycopg.connect(migrated_dsn) as conn:
                seen = {r[0] for r in conn.execute("SELECT DISTINCT source_system FROM events")}
                readings = scalar(conn, "SELECT count(*) FROM readings")
            return seen, readings

        seen, readings = settle(stored, lambda s: s[0] == SYSTEMS and s[1] > 0, 60, step=0.5)
        assert seen == SYSTEMS and readings > 0
        with psycopg.connect(migrated_dsn) as conn:  # only the messages spoiled on purpose
            letters = conn.execute("SELECT topic, department_id FROM dead_letters").fetchall()
        assert all("/native/" in topic and topic.split("/")[1] == department
                   for topic, department in letters), letters
    finally:
        stack.close()
