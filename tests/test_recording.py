"""Recording end to end: synthetic cameras, a real relay process, segments on disk."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from devkit.embedded.process import stop
from streams.recording.journal import read_lines
from streams.recording.reconcile import media_span


def wait_for(condition, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


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
