"""The segment index in the store: each node's journals copied into ``recording_segments``.

Idempotent (upserts by camera and sequence number), so ``cityhub recordings index``
can run on a timer on every relay node; deletions by retention set ``deleted_at``,
holds and moves to the archive update their rows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from hub.audit import chain
from streams.recording.journal import JOURNAL, Journal, read_lines

#: Audit action whose entries carry the recording chains' heads (pinned by the signed
#: daily root like every other entry).
ANCHOR_ACTION = "recordings.chain_heads"

UPSERT = """
INSERT INTO recording_segments (camera_id, seq, start_at, end_at, node, path, bytes, sha256,
                                link, recovered)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (camera_id, seq, start_at) DO NOTHING
"""


def _ts(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def index_camera(
    conn: psycopg.Connection[Any], camera_id: str, journal_dir: Path, node: str
) -> int:
    """Copy one camera's journal into the store; returns the segment lines seen."""
    lines = read_lines(journal_dir / JOURNAL)
    starts: dict[int, datetime] = {}
    n = 0
    with conn.cursor() as cur:
        for line in lines:
            kind, seq = line.get("kind"), int(line.get("seq", -1))
            if kind == "segment":
                starts[seq] = _ts(line["start"])
                cur.execute(
                    UPSERT,
                    (
                        camera_id,
                        seq,
                        starts[seq],
                        _ts(line["end"]),
                        node,
                        line["file"],
                        line["bytes"],
                        line["sha256"],
                        line["link"],
                        bool(line.get("recovered")),
                    ),
                )
                n += 1
            elif seq in starts:
                key = (camera_id, seq, starts[seq])
                if kind == "deleted":
                    cur.execute(
                        "UPDATE recording_segments SET deleted_at = coalesce(deleted_at, now())"
                        " WHERE camera_id = %s AND seq = %s AND start_at = %s",
                        key,
                    )
                elif kind == "hold":
                    cur.execute(
                        "UPDATE recording_segments SET held = %s"
                        " WHERE camera_id = %s AND seq = %s AND start_at = %s",
                        (bool(line.get("held")), *key),
                    )
                elif kind == "moved":
                    cur.execute(
                        "UPDATE recording_segments SET path = %s, tier = %s"
                        " WHERE camera_id = %s AND seq = %s AND start_at = %s",
                        (line["file"], line.get("tier", "archive"), *key),
                    )
    return n


def anchor(conn: psycopg.Connection[Any], journal_dirs: dict[str, Path]) -> dict[str, Any]:
    """Write every camera's chain head into the audit log (commits with ``conn``)."""
    heads = {}
    for cam, directory in journal_dirs.items():
        journal = Journal.open(cam, directory)
        heads[cam] = {"link": journal.head, "segments": len(journal.segments)}
    chain.append(conn, actor="recorder", action=ANCHOR_ACTION, detail={"heads": heads})
    return heads


def anchored_heads(dsn: str) -> dict[str, str]:
    """The latest anchored chain head per camera, from the audit log."""
    heads: dict[str, str] = {}
    with psycopg.connect(dsn) as conn:
        for (detail,) in conn.execute(
            "SELECT detail FROM audit_log WHERE action = %s ORDER BY seq", (ANCHOR_ACTION,)
        ):
            heads.update({cam: h["link"] for cam, h in (detail or {}).get("heads", {}).items()})
    return heads
