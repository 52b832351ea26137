"""The segment index in the store (both layouts) and chain heads anchored in the audit log."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg

from devkit.fixtures.store import store_layout
from hub.recordings_index import anchor, anchored_heads, index_camera
from hub.store.scalar import scalar
from streams.recording.journal import GENESIS, Journal, link_of, read_lines
from streams.recording.verify import verify_camera


def _journal(root: Path) -> Journal:
    journal = Journal.open("cam1", root / "cam1")
    day = root / "cam1" / "20261205"
    day.mkdir(parents=True)
    for i in range(3):
        f = day / f"cam1-20261205T00000{i}.000Z.mp4"
        f.write_bytes(bytes([i]) * 1000)
        journal.add_segment(f, 1_780_000_000 + i * 60, 1_780_000_060 + i * 60)
    return journal


def test_index_is_a_hypertable_on_timescale_and_follows_the_journal(store_dsn, tmp_path) -> None:
    journal = _journal(tmp_path)
    journal.append("hold", seq=1, held=True, reason="case 17")
    Path(journal.segments[0].file).unlink()
    journal.append("deleted", seq=0, file=journal.segments[0].file, reason="retention")
    with psycopg.connect(store_dsn) as conn:
        assert index_camera(conn, "cam1", tmp_path / "cam1", "node-a") == 3
        assert index_camera(conn, "cam1", tmp_path / "cam1", "node-a") == 3  # idempotent
        rows = conn.execute(
            "SELECT seq, held, deleted_at IS NOT NULL, bytes, node FROM recording_segments"
            " ORDER BY seq"
        ).fetchall()
        hyper = (
            scalar(
                conn,
                "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"
            )
            and scalar(
                conn,
                "SELECT count(*) FROM timescaledb_information.hypertables"
                " WHERE hypertable_name = 'recording_segments'"
            )
        )
    assert rows == [
        (0, False, True, 1000, "node-a"),
        (1, True, False, 1000, "node-a"),
        (2, False, False, 1000, "node-a"),
    ]
    assert bool(hyper) == store_layout(store_dsn)["timescaledb"]


def test_an_anchored_head_catches_a_rebuilt_journal(store_dsn, tmp_path) -> None:
    journal = _journal(tmp_path)
    with psycopg.connect(store_dsn) as conn:
        heads = anchor(conn, {"cam1": tmp_path / "cam1"})
    assert heads["cam1"]["link"] == journal.head
    anchors = anchored_heads(store_dsn)
    assert verify_camera("cam1", tmp_path / "cam1", [tmp_path / "cam1"], anchors["cam1"]).ok
    # Rebuild the whole journal with a doctored segment (every link recomputed): only the
    # anchored head can tell.
    lines = read_lines(tmp_path / "cam1" / "index.jsonl")
    Path(lines[1]["file"]).write_bytes(b"doctored" * 100)
    from streams.recording.journal import file_sha256

    lines[1]["sha256"] = file_sha256(Path(lines[1]["file"]))
    lines[1]["bytes"] = 800
    prev = GENESIS
    for line in lines:
        line["prev"] = prev
        line["link"] = prev = link_of(line)
    (tmp_path / "cam1" / "index.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert verify_camera("cam1", tmp_path / "cam1", [tmp_path / "cam1"]).ok  # fooled alone
    report = verify_camera("cam1", tmp_path / "cam1", [tmp_path / "cam1"], anchors["cam1"])
    assert not report.ok and "anchored head" in report.problems[0].detail
