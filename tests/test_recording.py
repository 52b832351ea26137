"""Recording end to end: synthetic cameras, a real relay process, segments on disk."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from devkit.embedded.process import stop
from devkit.fixtures.streams import RELAY_CORES, SERVICE
from devkit.fixtures.wait import wait_for
from streams.recording.journal import read_lines
from streams.recording.salvage import media_span


def segments(root: Path, camera: str) -> list[dict]:
    lines = read_lines(root / camera / "index.jsonl")
    gone = {line["seq"] for line in lines if line["kind"] == "deleted"}
    return [x for x in lines if x["kind"] == "segment" and x["seq"] not in gone]


def recording(root: Path, **extra: object) -> dict:
    return {
        "paths": [str(root)],
        "segment_s": 2,
        "fragment_ms": 500,
        "cameras": {"cam1": {"mode": "continuous"}},
        **extra,
    }


@pytest.mark.fault
@RELAY_CORES
def test_continuous_recording_across_camera_restart_has_one_gap(
    camera_factory, relay_factory, tmp_path
) -> None:
    root = tmp_path / "rec"
    cam = camera_factory(["cam1"], mode="loop")
    relay = relay_factory(
        {"cam1": cam.url("cam1")},
        backoff_initial_s=0.2,
        backoff_max_s=0.5,
        recording=recording(root),
    )
    # Recorded cameras are pulled with no viewer at all.
    wait_for(lambda: len(segments(root, "cam1")) >= 2, what="two segments")
    assert relay.health("cam1")["state"] == "live"
    cam.kill()
    killed = time.time()
    relay.wait_state("cam1", "failed", 15)
    wait_for(lambda: time.time() - killed > 3, what="outage")  # the camera stays away ~3 s
    cam.start()
    back = time.time()
    n_before = len(segments(root, "cam1"))
    wait_for(lambda: len(segments(root, "cam1")) >= n_before + 2, what="segments after restart")
    segs = segments(root, "cam1")
    gaps = [
        (a, b, b["start"] - a["end"])
        for a, b in zip(segs, segs[1:], strict=False)
        if b["start"] - a["end"] > 0.5
    ]
    assert len(gaps) == 1, [(g[2]) for g in gaps]
    a, b, gap = gaps[0]
    assert a["end"] <= killed + 0.5 and b["start"] >= back - 0.5, (a["end"], killed, b["start"])
    assert 2.5 < gap < (b["start"] - killed) + 1.0
    for seg in segs:  # every segment is whole, plays, and starts on a keyframe
        span = media_span(Path(seg["file"]))
        assert span is not None and span[1] > 5
        assert abs(span[0] - (seg["end"] - seg["start"])) < 0.6, (span, seg)


@pytest.mark.fault
def test_kill_9_during_write_recovers_the_partial_segment(
    camera_factory, relay_factory, tmp_path
) -> None:
    root = tmp_path / "rec"
    cam = camera_factory(["cam1"], mode="loop")
    relay = relay_factory({"cam1": cam.url("cam1")}, recording=recording(root, segment_s=30))
    wait_for(lambda: list(root.glob("cam1/*/*.mp4")), what="a segment being written")
    wait_for(
        lambda: sum(p.stat().st_size for p in root.glob("cam1/*/*.mp4")) > 200_000,
        what="a few fragments",
    )
    closed_before = segments(root, "cam1")
    stop(relay.proc, signal.SIGKILL)
    relay.proc = None
    partial = [
        p for p in root.glob("cam1/*/*.mp4") if str(p) not in {s["file"] for s in closed_before}
    ]
    assert len(partial) == 1
    relay.start()
    segs = wait_for(
        lambda: [s for s in segments(root, "cam1") if s.get("recovered")],
        what="the recovered segment",
    )
    assert segs[0]["file"] == str(partial[0])
    span = media_span(partial[0])
    assert span is not None and span[0] > 1.0
    for seg in closed_before:
        assert Path(seg["file"]).exists()
    # Recording goes on after the restart.
    wait_for(lambda: len(list(root.glob("cam1/*/*.mp4"))) >= 2, what="a new segment")
    lines = read_lines(root / "cam1" / "index.jsonl")
    assert all(json.dumps(x) for x in lines)


def _tampered(src: Path, dst: Path, how: str) -> None:
    import shutil

    shutil.copytree(src, dst)
    journal = dst / "cam1" / "index.jsonl"
    # Segments' journaled paths point into src: rewrite them to the copy (before chaining
    # matters, so the copy is itself a consistent recording).
    lines = read_lines(src / "cam1" / "index.jsonl")
    from streams.recording.journal import GENESIS, link_of

    prev = GENESIS
    for line in lines:
        if "file" in line:
            line["file"] = line["file"].replace(str(src), str(dst))
        line["prev"] = prev
        line["link"] = link_of(line)
        prev = line["link"]
    files = [Path(x["file"]) for x in lines if x["kind"] == "segment"]
    if how == "alter":
        data = bytearray(files[2].read_bytes())
        data[len(data) // 2] ^= 0xFF
        files[2].write_bytes(bytes(data))
    elif how == "delete":
        files[2].unlink()
    elif how == "insert":
        (files[2].parent / "cam1-20300101T000000.000Z.mp4").write_bytes(files[1].read_bytes())
    elif how == "reorder":
        a, b = files[1].read_bytes(), files[2].read_bytes()
        files[1].write_bytes(b)
        files[2].write_bytes(a)
    elif how == "edit-index":
        lines[2]["end"] += 5
    elif how == "drop-index":
        del lines[2]
    elif how == "swap-index":
        lines[1], lines[2] = lines[2], lines[1]
    journal.write_text("".join(json.dumps(x) + "\n" for x in lines))


@pytest.mark.fault
def test_verify_names_each_kind_of_tampering(camera_factory, relay_factory, tmp_path) -> None:
    import subprocess
    import sys

    from streams.recording.verify import verify_camera

    root = tmp_path / "rec"
    cam = camera_factory(["cam1"], mode="loop")
    relay = relay_factory({"cam1": cam.url("cam1")}, recording=recording(root, segment_s=1))
    wait_for(lambda: len(segments(root, "cam1")) >= 5, what="five segments")
    relay.stop()
    clean = verify_camera("cam1", root / "cam1", [root / "cam1"])
    assert clean.ok, clean.as_dict()
    files = [Path(s["file"]).name for s in segments(root, "cam1")]
    expected = {
        "alter": ("altered", files[2]),
        "delete": ("deleted", files[2]),
        "insert": ("inserted", "cam1-20300101T000000.000Z.mp4"),
        "reorder": ("reordered", files[1]),
        "edit-index": ("altered", "journal line 3"),
        "drop-index": ("deleted", "journal line 3"),
        "swap-index": ("reordered", "journal line 2"),
    }
    for how, (kind, name) in expected.items():
        dst = tmp_path / how
        _tampered(root, dst, how)
        report = verify_camera("cam1", dst / "cam1", [dst / "cam1"])
        found = [(p.kind, p.what) for p in report.problems]
        assert any(k == kind and name in w for k, w in found), (how, found)
    # The command says the same and fails.
    result = subprocess.run(
        [sys.executable, "-m", "hub", "recordings", "--config", str(relay.config_path), "verify"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    Path(segments(root, "cam1")[0]["file"]).unlink()
    result = subprocess.run(
        [sys.executable, "-m", "hub", "recordings", "--config", str(relay.config_path), "verify"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and "deleted" in result.stderr, result.stderr


def _hold(relay, start: float, end: float, held: bool = True) -> list[int]:
    import httpx

    r = httpx.post(
        f"{relay.http}/recordings/cam1/hold",
        json={"start": start, "end": end, "held": held, "reason": "case 17"},
        headers={"Authorization": f"Bearer {relay.token('cam1', ('clip',))}"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return r.json()["segments"]


def test_retention_deletes_the_oldest_and_never_a_held_segment(
    camera_factory, relay_factory, tmp_path
) -> None:
    root = tmp_path / "rec"
    cam = camera_factory(["cam1"], mode="loop")
    # 0.0001 days: footage older than 8.64 s goes.
    relay = relay_factory(
        {"cam1": cam.url("cam1")}, recording=recording(root, segment_s=1, retention_days=0.0001)
    )
    first = wait_for(lambda: segments(root, "cam1"), what="a first segment")[0]
    held = _hold(relay, first["start"], first["end"])
    assert held == [first["seq"]]
    lines = lambda: read_lines(root / "cam1" / "index.jsonl")  # noqa: E731
    wait_for(lambda: sum(1 for x in lines() if x["kind"] == "deleted") >= 3, what="three deletions")
    deleted = [x["seq"] for x in lines() if x["kind"] == "deleted"]
    assert first["seq"] not in deleted and Path(first["file"]).exists()
    assert deleted == sorted(deleted)  # the oldest first
    assert all(not Path(x["file"]).exists() for x in lines() if x["kind"] == "deleted")
    live = segments(root, "cam1")
    assert live[0]["seq"] == first["seq"] and len(live) >= 3
    # Metrics count it.
    import httpx

    text = httpx.get(f"{relay.http}/metrics", headers=SERVICE, timeout=10).text
    assert "cityhub_recording_deleted_segments_total" in text


@pytest.mark.fault
def test_full_disk_deletes_oldest_unheld_then_stops_only_when_all_held_and_resumes(
    camera_factory, relay_factory, tmp_path
) -> None:
    import subprocess

    import httpx

    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk)], check=True)
    try:
        cam = camera_factory(["cam1"], mode="loop")
        # Keep 1.5 MB free of 3 MB: ~1.5 MB of footage fits (~20 s of this camera).
        relay = relay_factory(
            {"cam1": cam.url("cam1")},
            recording=recording(disk, segment_s=1, min_free_gb=1.5 / 1024),
        )
        lines = lambda: read_lines(disk / "cam1" / "index.jsonl")  # noqa: E731
        wait_for(
            lambda: any(x["kind"] == "deleted" and x["reason"] == "space" for x in lines()),
            timeout=60,
            what="a deletion for space",
        )
        n = len(segments(disk, "cam1"))
        wait_for(lambda: segments(disk, "cam1")[-1]["seq"] >= n + 3, what="recording goes on")
        state = httpx.get(f"{relay.http}/recordings", headers=SERVICE, timeout=10).json()
        assert state["cameras"]["cam1"]["recording"] is True
        assert state["storage"][0]["free_bytes"] > 0
        # Everything held, from now on too (a standing hold): nothing may be deleted, so
        # recording stops (alarm), and only then.
        _hold(relay, 0, 4e9)

        def stopped() -> bool:
            answer = httpx.get(f"{relay.http}/recordings", headers=SERVICE, timeout=10)
            cams = answer.json()["cameras"]
            return cams["cam1"]["blocked"] is not None and not cams["cam1"]["recording"]

        wait_for(stopped, timeout=60, what="recording to stop with all footage held")
        assert all(Path(s["file"]).exists() for s in segments(disk, "cam1"))
        log = relay.log.read_text()
        assert "recording alarm recording_stopped" in log
        assert "recording alarm disk_near_full" in log
        # Space returns (the holds are released): recording resumes by itself.
        last = segments(disk, "cam1")[-1]["seq"]
        _hold(relay, 0, 4e9, held=False)
        wait_for(lambda: segments(disk, "cam1")[-1]["seq"] > last + 2, what="recording resumes")
        cams = httpx.get(f"{relay.http}/recordings", headers=SERVICE, timeout=10).json()["cameras"]
        assert cams["cam1"]["recording"] and cams["cam1"]["blocked"] is None
        relay.stop()
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


@RELAY_CORES
def test_event_recording_holds_the_pre_event_seconds(
    camera_factory, relay_factory, tmp_path
) -> None:
    import httpx

    root = tmp_path / "rec"
    cam = camera_factory(["cam1"], mode="loop")
    policy = {"mode": "events", "pre_s": 4, "post_s": 2}
    relay = relay_factory(
        {"cam1": cam.url("cam1")}, recording=recording(root, cameras={"cam1": policy})
    )
    # Pulled for its ring even with no viewer; nothing recorded before an event.
    assert relay.wait_state("cam1", "live", 20)["state"] == "live"
    started = time.monotonic()
    wait_for(lambda: time.monotonic() - started > 5, what="the ring to fill")
    assert segments(root, "cam1") == []
    at = time.time()
    r = httpx.post(
        f"{relay.http}/recordings/cam1/events",
        json={"event_id": "ev-1"},
        headers={"Authorization": f"Bearer {relay.token('cam1', ('clip',))}"},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    segs = segments(root, "cam1")
    assert len(segs) == 1
    seg = segs[0]
    # Starts on the keyframe at or before at - pre_s (1 s GOP), ends post_s after.
    assert at - 4 - 1.2 <= seg["start"] <= at - 4 + 0.3, seg["start"] - at
    assert seg["end"] >= at + 2 - 0.3
    span = media_span(Path(seg["file"]))
    assert span is not None and span[0] >= 5.5
    # Without a token allowing it, no event recording and no ranges.
    r = httpx.post(f"{relay.http}/recordings/cam1/events", json={}, timeout=10)
    assert r.status_code == 401


def test_older_segments_move_to_the_archive_and_still_verify(
    camera_factory, relay_factory, tmp_path
) -> None:
    from streams.recording.verify import verify_camera

    root, archive = tmp_path / "fast", tmp_path / "nas"
    archive.mkdir()
    cam = camera_factory(["cam1"], mode="loop")
    relay = relay_factory(
        {"cam1": cam.url("cam1")},
        recording=recording(root, segment_s=1, archive_path=str(archive), archive_after_h=0.001),
    )
    lines = lambda: read_lines(root / "cam1" / "index.jsonl")  # noqa: E731
    wait_for(lambda: sum(1 for x in lines() if x["kind"] == "moved") >= 2, what="two moves")
    moved = [x for x in lines() if x["kind"] == "moved"]
    for m in moved:
        assert m["file"].startswith(str(archive)) and Path(m["file"]).exists()
        span = media_span(Path(m["file"]))
        assert span is not None and span[1] > 5
    relay.stop()
    report = verify_camera("cam1", root / "cam1", [root / "cam1", archive / "cam1"])
    assert report.ok, report.problems
    # The fast path keeps only what is newer than the archive horizon.
    fast = list(root.glob("cam1/*/*.mp4"))
    assert not any(str(p) == m["file"] for p in fast for m in moved)


@pytest.mark.fault
def test_a_storage_path_that_disappears_raises_an_alarm_and_recording_goes_on(
    camera_factory, relay_factory, tmp_path
) -> None:
    import subprocess

    nas, local = tmp_path / "nas", tmp_path / "local"
    nas.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(nas)], check=True)
    try:
        cam = camera_factory(["cam1"], mode="loop")
        relay = relay_factory(
            {"cam1": cam.url("cam1")},
            recording={**recording(nas, segment_s=1), "paths": [str(local), str(nas)]},
        )
        wait_for(lambda: len(segments(local, "cam1")) >= 2, what="segments")
        subprocess.run(["umount", "-l", str(nas)], check=True)  # the NAS goes away
        gone = time.time()
        wait_for(lambda: "storage_unavailable" in relay.log.read_text(), what="an alarm")
        wait_for(
            lambda: len([s for s in segments(local, "cam1") if s["start"] > gone + 1.5]) >= 3,
            what="recording to go on",
        )
        late = [s for s in segments(local, "cam1") if s["start"] > gone + 1.5]
        assert all(s["file"].startswith(str(local)) for s in late)
        assert not list(nas.glob("cam1/*/*.mp4"))  # nothing lands in the empty mount point
        relay.stop()
    finally:
        subprocess.run(["umount", "-l", str(nas)], check=False, capture_output=True)
