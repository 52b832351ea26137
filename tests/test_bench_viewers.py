"""bench.soak's viewers reconnect as the web UI's player does, and their records are read
right: when a viewer played again after a kill, and which runs cannot stand."""

from __future__ import annotations

import json
import re
from pathlib import Path

from bench import viewers
from bench.soak_viewers import back_after, recovery, viewer_problems

PLAYER = Path(__file__).resolve().parents[1] / "hub/ui/static/js/player.js"


def _const_ms(text: str, name: str) -> list[float]:
    m = re.search(rf"const {name} = (\[[^\]]*\]|\d+);", text)
    assert m, f"{name} not found in player.js"
    value = json.loads(m.group(1))
    return [v / 1000 for v in (value if isinstance(value, list) else [value])]


def test_bench_viewers_use_the_ui_players_reconnect_timings() -> None:
    js = PLAYER.read_text()
    assert tuple(_const_ms(js, "RETRY_MS")) == viewers.RETRY_S
    m = re.search(r"const RETRY_JITTER = ([0-9.]+);", js)
    assert m and float(m.group(1)) == viewers.RETRY_JITTER
    assert _const_ms(js, "FIRST_FRAME_MS") == [viewers.FIRST_FRAME_S]
    assert _const_ms(js, "STALL_MS") == [viewers.STALL_S]
    assert _const_ms(js, "STALL_CHECK_MS") == [viewers.STALL_CHECK_S]
    assert _const_ms(js, "EVENTS_RETRY_MS") == [viewers.EVENTS_RETRY_S]
    assert _const_ms(js, "FALLBACK_MS") == [viewers.FALLBACK_S]
    assert _const_ms(js, "TOKEN_REUSE_MS") == [viewers.TOKEN_REUSE_S]


def _viewer(gaps: list[tuple[float, float]], last: float, transport: str = "webrtc") -> dict:
    return {"camera": "c", "transport": transport, "frames": 1000, "first_frame": 0.0,
            "last_frame": last, "gaps": gaps, "connects": 1 + len(gaps), "failures": 0,
            "ended": None, "error": ""}


def test_time_back_is_from_the_kill_to_the_first_frame_after_the_interruption() -> None:
    kill = 100.0
    assert back_after(_viewer([(99.95, 107.5)], 200), kill, 200) == 7.5
    # two attempts after one kill: back when the last interruption ended
    assert back_after(_viewer([(99.9, 102.0), (102.5, 104.25)], 200), kill, 200) == 4.25
    # frames never stopped (a part the viewers do not depend on)
    assert back_after(_viewer([(50.0, 52.0)], 200), kill, 200) == 0.0
    # an interruption that began just before the next kill (at 120) is that kill's
    assert back_after(_viewer([(119.5, 122.0)], 200), kill, 120) == 0.0  # the next one's
    assert back_after(_viewer([(119.5, 122.0)], 200), 120, 200) == 2.0
    # a later, unrelated interruption is not the kill's
    assert back_after(_viewer([(99.9, 103.0), (150.0, 160.0)], 200), kill, 200) == 3.0
    # dark since the kill
    assert back_after(_viewer([], 99.9), kill, 200) is None
    # back on a new connection so soon that no frame gap reached GAP_S
    quick = {**_viewer([], 200), "connected": [10.0, 100.8]}
    assert back_after(quick, kill, 200) == 0.8
    assert back_after({**quick, "connected": [10.0, 130.0]}, kill, 200) == 0.0


def test_recovery_is_given_per_transport() -> None:
    vs = [_viewer([(99.9, 103.0)], 200), _viewer([(99.9, 105.0)], 200),
          _viewer([(99.9, 104.0)], 200, "fmp4"), _viewer([], 99.0, "fmp4")]
    got = recovery(vs, 100.0, 200.0)
    assert got["webrtc"] == {"max_s": 5.0, "median_s": 4.0, "interrupted": 2, "not_back": 0,
                             "viewers": 2}
    assert got["fmp4"]["not_back"] == 1 and got["fmp4"]["max_s"] == 4.0


def test_a_viewer_dark_at_the_end_or_starved_invalidates_the_run() -> None:
    ok = _viewer([], 100.0)
    assert viewer_problems([ok], 1, 5, now=101) == []
    assert "not playing at the end" in viewer_problems([_viewer([], 90.0)], 1, 5, now=101)[0]
    starved = {**ok, "frames": 10}
    assert "below 5 fps" in viewer_problems([starved], 1, 5, now=101)[0]
    assert "1 of 2 viewers" in viewer_problems([ok], 2, 5, now=101)[0]
