"""A disaster drill on private clusters: fill a store, back it up, keep writing, lose it,
restore a fresh cluster to a point in time, and compare what came back.

Used by tests/test_ops_restore.py (small) and ``python -m bench.restore`` (sized, timed).
"""

from __future__ import annotations

import hashlib
import os
import pwd
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from devkit.embedded.postgres import EmbeddedPostgres
from hub.audit import chain
from hub.ops import backup
from hub.store import migrate


@dataclass
class Truth:
    """What the restored store must hold (everything committed up to the target time)."""

    events: int = 0
    audit: int = 0
    media: dict[str, str] = field(default_factory=dict)  #: sha256 -> sha256 of the data


def cli(*args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", "from hub.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"cityhub {' '.join(args[:2])} failed: {out.stderr.strip()[-2000:]}")
    return out.stdout


def give_to_server(path: Path, pg: EmbeddedPostgres) -> None:
    """The server's user writes the archive (as in production: the repo is its mount)."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        pw = pwd.getpwnam(pg.user)
        for p in [path, *path.rglob("*")]:
            os.chown(p, pw.pw_uid, pw.pw_gid)


def write_batch(dsn: str, events: int, audit: int, media: int, truth: Truth | None) -> None:
    """Commit ``events`` events, ``audit`` audit entries and ``media`` blobs; count them."""
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO events (id, occurred_at, source_system, kind, severity, department_id,"
            " site_id, camera_id, attributes) SELECT gen_random_uuid(), now(), 'traffic',"
            " 'plate_read', 1, 'traffic', 'drill-site', 'cam-' || (g %% 32),"
            " jsonb_build_object('plate', 'A' || g, 'n', g) FROM generate_series(1, %s) g",
            (events,),
        )
        chain.append_many(
            conn,
            [
                {
                    "actor": "drill",
                    "action": "query",
                    "actor_department": "traffic",
                    "target_type": "events",
                    "target_id": None,
                    "department": "traffic",
                    "detail": {"n": i},
                }
                for i in range(audit)
            ],
        )
        for _ in range(media):
            data = os.urandom(64 * 1024)
            sha = hashlib.sha256(data).hexdigest()
            conn.execute(
                "INSERT INTO media (sha256, content_type, size, data, department_id, site_id)"
                " VALUES (%s, 'image/jpeg', %s, %s, 'traffic', 'drill-site')",
                (sha, len(data), data),
            )
            if truth is not None:
                truth.media[sha] = sha
    if truth is not None:
        truth.events += events
        truth.audit += audit


def prepare_primary(state: Path, repo: Path, archive_timeout_s: int) -> EmbeddedPostgres:
    """A private cluster archiving into ``repo``, migrated, with the drill's department."""
    pg = EmbeddedPostgres(state / "primary").start()
    give_to_server(repo / "wal", pg)
    if backup.enable_archiving(pg.dsn, repo, archive_timeout_s):
        pg.stop()
        pg.start()
    migrate.upgrade(pg.dsn)
    with psycopg.connect(pg.dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO departments (id, name) VALUES ('traffic', 'Traffic')")
        conn.execute(
            "INSERT INTO sites (id, name, department_id) VALUES ('drill-site', 'S', 'traffic')"
        )
    return pg


def db_now(dsn: str) -> datetime:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT clock_timestamp()").fetchone()
    assert row is not None
    return row[0]


def archive_now(dsn: str, timeout: float = 60.0) -> float:
    """Switch WAL and wait until the current segment is archived; seconds it took."""
    t0 = time.monotonic()
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()
        assert row is not None
        wanted = row[0]
        while time.monotonic() - t0 < timeout:
            done = conn.execute("SELECT last_archived_wal FROM pg_stat_archiver").fetchone()
            if done and done[0] and done[0] >= wanted:
                return time.monotonic() - t0
            time.sleep(0.05)
    raise RuntimeError(f"WAL {wanted} not archived in {timeout:.0f}s")


def rpo_quiet(dsn: str, timeout: float) -> float:
    """Seconds from a lone commit on a quiet server until its WAL is in the archive
    (what archive_timeout bounds): the worst-case data loss if the primary's disk dies."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS drill_marker (at timestamptz)")
        t0 = time.monotonic()
        conn.execute("INSERT INTO drill_marker VALUES (now())")
        row = conn.execute("SELECT pg_walfile_name(pg_current_wal_insert_lsn())").fetchone()
        assert row is not None
        while time.monotonic() - t0 < timeout:
            done = conn.execute("SELECT last_archived_wal FROM pg_stat_archiver").fetchone()
            if done and done[0] and done[0] >= row[0]:
                return time.monotonic() - t0
            time.sleep(0.1)
    raise RuntimeError(f"timeout: the marker's WAL was not archived within {timeout:g} s")


def restored_state(dsn: str) -> dict[str, Any]:
    """What a restored store holds: counts, audit verification, media whose bytes match."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        events = conn.execute("SELECT count(*) FROM events").fetchone()
        result = chain.verify(conn)
        media = {
            sha: hashlib.sha256(bytes(data)).hexdigest()
            for sha, data in conn.execute("SELECT sha256, data FROM media").fetchall()
        }
    return {
        "events": events[0] if events else 0,
        "audit_ok": result.ok,
        "audit_entries": result.entries,
        "media": media,
    }


def restore(
    repo: Path, state: Path, target: datetime | None
) -> tuple[EmbeddedPostgres, dict[str, float]]:
    """``cityhub db restore`` into a fresh cluster, started and promoted; timings (RTO parts)."""
    fresh = EmbeddedPostgres(state / "restored")
    t0 = time.monotonic()
    args = ["db", "restore", "--repo", str(repo), "--data-dir", str(fresh.data)]
    if target is not None:
        args += ["--target-time", target.isoformat()]
    if os.geteuid() == 0:
        args += ["--owner", fresh.user]
    fresh.dir.mkdir(parents=True, exist_ok=True)
    cli(*args)
    copied = time.monotonic() - t0
    fresh.start()
    backup.wait_promoted(fresh.dsn)
    return fresh, {"copy_s": round(copied, 3), "rto_s": round(time.monotonic() - t0, 3)}
