"""Maintenance and the `cityhub db` commands on a real server (plain partitions or TimescaleDB)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import psycopg

from devkit.fixtures.store import run, store_layout
from hub.store.maintain import MaintenanceReport, ensure_partitions, maintain
from hub.store.scalar import scalar
from hub.store.settings import StoreConfig

NOW = datetime.now(UTC)


def _insert_old_rows(dsn: str) -> None:
    async def go() -> None:
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            await ensure_partitions(conn, NOW - timedelta(days=400), NOW - timedelta(days=390))
            await conn.execute(
                "INSERT INTO events (id, occurred_at, source_system, kind, severity, "
                "department_id, "
                "site_id) VALUES (gen_random_uuid(), %s, 'traffic', 'old', 0, 'd', 's')",
                (NOW - timedelta(days=395),),
            )
            await conn.execute(
                "INSERT INTO dead_letters (received_at, topic, reason, payload, payload_size) "
                "VALUES (%s, 't', 'r', '\\x00', 1), (now(), 't', 'recent', '\\x00', 1)",
                (NOW - timedelta(days=60),),
            )
            await conn.commit()

    run(go())


def test_maintain_applies_retention_and_makes_room_ahead(store_dsn: str) -> None:
    _insert_old_rows(store_dsn)
    cfg = StoreConfig(events_retention_days=365, partitions_ahead_days=30)

    async def go() -> MaintenanceReport:
        async with await psycopg.AsyncConnection.connect(store_dsn, autocommit=True) as conn:
            return await maintain(conn, cfg)

    report = run(go())
    with psycopg.connect(store_dsn) as conn:
        reasons = [r[0] for r in conn.execute("SELECT reason FROM dead_letters").fetchall()]
        if store_layout(store_dsn)["timescaledb"]:
            jobs: dict[str, str] = dict(
                conn.execute(
                    "SELECT hypertable_name || ':' || proc_name, config->>'drop_after' "
                    "FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention'"
                ).fetchall()
            )
            assert jobs["events:policy_retention"] == "365 days"
            # The retention job maintain() just configured may run at once and drop the
            # chunk before maintain() does it itself: count what is left, not who dropped it.
            left = scalar(
                conn,
                "SELECT count(*) FROM show_chunks('events', older_than => interval '365 days')"
            )
            assert left == 0
        else:
            hi = scalar(conn, "SELECT max(hi) FROM store_partitions('events')")
            assert hi >= NOW + timedelta(days=30)
            assert report.partitions_dropped >= 1
        old = scalar(conn, "SELECT count(*) FROM events WHERE kind = 'old'")
    assert old == 0
    assert reasons == ["recent"]


def test_cli_upgrade_and_maintain(pg_dsn: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    cli = [sys.executable, "-c", "from hub.cli import main; main()"]
    up = subprocess.run(
        [*cli, "db", "--dsn", pg_dsn, "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert up.returncode == 0, up.stderr
    cur = subprocess.run(
        [*cli, "db", "--dsn", pg_dsn, "current"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cur.returncode == 0 and cur.stdout.strip() not in ("", "(empty database)"), cur.stderr
    m = subprocess.run(
        [*cli, "db", "--dsn", pg_dsn, "maintain"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert m.returncode == 0, m.stderr
    report = json.loads(m.stdout.strip().splitlines()[-1])
    assert report["timescaledb"] == store_layout(pg_dsn)["timescaledb"]
    assert "dead_letters" in report["rows_deleted"]


def test_layout_follows_what_the_server_offers(store_dsn: str) -> None:
    """TimescaleDB is used exactly when it is preloaded; TSL features exactly with its licence."""
    with psycopg.connect(store_dsn) as conn:
        preload = scalar(conn, "SHOW shared_preload_libraries")
        available = scalar(
            conn,
            "SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'"
        )
        layout = store_layout(store_dsn)
        assert layout["timescaledb"] == bool(available and "timescaledb" in preload)
        if layout["timescaledb"]:
            licence = scalar(conn, "SHOW timescaledb.license")
            assert (
                layout["compression"] == layout["continuous_aggregates"] == (licence == "timescale")
            )
            kinds: dict[str, bool] = dict(
                conn.execute(
                    "SELECT hypertable_name, compression_enabled FROM "
                    "timescaledb_information.hypertables"
                ).fetchall()
            )
            assert kinds == {"events": layout["compression"], "readings": layout["compression"]}
        else:
            parts = scalar(conn, "SELECT count(*) FROM store_partitions('events')")
            assert parts >= 7  # weeks around now, made at upgrade time
