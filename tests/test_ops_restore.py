"""Backup and point-in-time restore on real PostgreSQL clusters: ``cityhub db backup`` takes
a verified base backup while WAL is archived; after more writes and a disaster (a mass
delete), ``cityhub db restore`` to the moment before it gives a fresh cluster whose event
count matches, whose audit chain verifies and whose media bytes match their hashes."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from devkit import restore_drill as drill
from hub.ops import backup


def test_point_in_time_restore_to_a_fresh_cluster(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    primary = drill.prepare_primary(tmp_path, repo, archive_timeout_s=5)
    truth = drill.Truth()
    restored = None
    try:
        drill.write_batch(primary.dsn, events=2000, audit=20, media=4, truth=truth)
        taken = json.loads(drill.cli("db", "--dsn", primary.dsn, "backup", "--repo", str(repo)))
        assert Path(taken["path"]).is_dir() and taken["bytes"] > 0
        drill.write_batch(primary.dsn, events=700, audit=7, media=2, truth=truth)  # after it
        target = drill.db_now(primary.dsn)
        drill.write_batch(primary.dsn, events=300, audit=3, media=1, truth=None)  # too late
        with psycopg.connect(primary.dsn, autocommit=True) as conn:
            conn.execute("DELETE FROM events")  # the disaster
        drill.archive_now(primary.dsn)

        restored, timings = drill.restore(repo, tmp_path, target)
        state = drill.restored_state(restored.dsn)
        assert state["events"] == truth.events
        assert state["audit_ok"] and state["audit_entries"] == truth.audit
        assert state["media"] == truth.media  # every blob back, and its bytes hash right
        assert timings["rto_s"] > 0
    finally:
        primary.stop()
        if restored is not None:
            restored.stop()


def test_backup_refuses_a_server_that_does_not_archive(pg_dsn: str, tmp_path: Path) -> None:
    with pytest.raises(backup.BackupError, match="does not archive"):
        backup.base_backup(pg_dsn, tmp_path / "repo")


def test_restore_refuses_a_data_directory_in_use(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "PG_VERSION").write_text("15")
    with pytest.raises(backup.BackupError, match="not empty"):
        backup.prepare_restore(tmp_path / "repo", tmp_path / "data")
