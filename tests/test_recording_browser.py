"""Recorded footage plays in real headless Chromium: from an instant, seeks, 4x."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.test_streams_browser import ROOT, netns  # noqa: F401 (fixture)


@pytest.mark.browser
@pytest.mark.parametrize("netns", ["lo-only"], indirect=True)
def test_chromium_plays_back_from_an_instant_seeks_and_plays_at_4x(netns: str) -> None:  # noqa: F811
    out = subprocess.run(
        ["ip", "netns", "exec", netns, sys.executable, "-m", "tests.recording_browser_driver"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    # The picture shown starts on the keyframe at or before the instant (1 s GOP).
    first_wall = r["first"]["wall"] - r["first"]["time"] * r["first"]["speed"]
    assert r["at"] - 1.05 <= first_wall <= r["at"] + 0.01, r
    assert r["first"]["time"] > 0, r
    seek_wall = r["seek"]["wall"] - r["seek"]["time"]
    assert r["at2"] - 1.05 <= seek_wall <= r["at2"] + 0.01, r
    # 4x: two seconds of real time cover about eight of recorded time.
    assert r["fast1"]["speed"] == 4, r
    advanced = r["fast1"]["wall"] - r["fast0"]["wall"]
    assert 5.0 <= advanced <= 10.0, r
