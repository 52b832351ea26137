"""Restore benchmark: RPO and RTO of ``cityhub db backup``/``restore`` for a given data size.

``python -m bench.restore [--events N] [--after M] [--media K] [--archive-timeout S]`` fills a
private cluster (N events, K 64 KiB media blobs, audit entries), takes a base backup, writes M
more events (WAL the restore must replay), picks a target time, writes past it and deletes
everything (the disaster), then restores a fresh cluster to the target and checks that it
holds exactly what was committed before it (events, audit chain verifies, media hashes).
Anything else, or a step that fails or times out, makes the run invalid (exit 1, no figures).

Figures: base backup time and size; RTO = restore copy + WAL replay until the server accepts
writes; RPO on a quiet server = a lone commit until its WAL is in the archive (bounded by
``archive_timeout``; under load segments fill and ship sooner). Baseline in the same run:
a plain ``cp -a`` of the same base backup (the floor of any file-level restore).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from bench.report import finish
from devkit import restore_drill as drill
from hub.ops import backup


def _database_bytes(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return int(row[0]) if row else 0


def _fill(dsn: str, events: int, media: int, truth: drill.Truth) -> None:
    step = 100_000
    for done in range(0, events, step):
        n = min(step, events - done)
        drill.write_batch(dsn, n, audit=10, media=media * n // max(events, 1), truth=truth)


def run(args: argparse.Namespace, work: Path) -> tuple[dict[str, object], list[str]]:
    repo = work / "repo"
    primary = drill.prepare_primary(work, repo, args.archive_timeout)
    truth, problems = drill.Truth(), []
    restored = None
    try:
        _fill(primary.dsn, args.events, args.media, truth)
        size = _database_bytes(primary.dsn)
        t0 = time.monotonic()
        taken = backup.base_backup(primary.dsn, repo)
        backup_s = time.monotonic() - t0
        _fill(primary.dsn, args.after, 0, truth)
        target = drill.db_now(primary.dsn)
        drill.write_batch(primary.dsn, 1000, audit=1, media=1, truth=None)
        with psycopg.connect(primary.dsn, autocommit=True) as conn:
            conn.execute("DELETE FROM events")
        drill.archive_now(primary.dsn)
        rpo = drill.rpo_quiet(primary.dsn,
                              timeout=args.rpo_timeout or args.archive_timeout * 3 + 30)
        wal_bytes = sum(p.stat().st_size for p in (repo / "wal").iterdir())

        t1 = time.monotonic()
        subprocess.run(["cp", "-a", taken.path, str(work / "baseline-copy")], check=True)
        copy_baseline = time.monotonic() - t1

        restored, timings = drill.restore(repo, work, target)
        state = drill.restored_state(restored.dsn)
        if state["events"] != truth.events:
            problems.append(f"events: restored {state['events']}, committed {truth.events}")
        if not state["audit_ok"] or state["audit_entries"] != truth.audit:
            problems.append(f"audit: ok={state['audit_ok']} entries {state['audit_entries']}")
        if state["media"] != truth.media:
            problems.append("media differ from what was committed")
    finally:
        primary.stop()
        if restored is not None:
            restored.stop()
    result = {
        "events": truth.events,
        "database_mb": round(size / 2**20, 1),
        "base_backup_mb": round(taken.bytes / 2**20, 1),
        "base_backup_s": round(backup_s, 2),
        "wal_archived_mb": round(wal_bytes / 2**20, 1),
        "events_after_backup": args.after,
        "restore_copy_s": timings["copy_s"],
        "rto_s": timings["rto_s"],
        "baseline_cp_a_s": round(copy_baseline, 2),
        "archive_timeout_s": args.archive_timeout,
        "rpo_quiet_s": round(rpo, 2),
        "restored_events": state["events"],
        "restored_audit_entries": state["audit_entries"],
        "restored_media": len(state["media"]),
    }
    return result, problems


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--events", type=int, default=2_000_000, help="events before the backup")
    p.add_argument("--after", type=int, default=500_000, help="events after it (WAL to replay)")
    p.add_argument("--media", type=int, default=200, help="64 KiB media blobs")
    p.add_argument("--archive-timeout", type=int, default=60, help="server archive_timeout, s")
    p.add_argument("--rpo-timeout", type=float,
                   help="seconds a lone commit's WAL has to be archived (default: 3 "
                   "archive_timeouts + 30 s)")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-restore-"))
    try:
        result, problems = run(args, work)
    except RuntimeError as exc:  # a drill step that failed or timed out: no figures
        result, problems = {"events": args.events}, [str(exc)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return finish("restore", result, problems)


if __name__ == "__main__":
    sys.exit(main())
