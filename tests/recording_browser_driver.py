"""Run inside a network namespace by tests/test_recording_browser.py (not a test itself).

Records a synthetic camera, then plays the footage back in headless Chromium over the
playback WebSocket (streams/web/playback.js): from an instant, after a seek, and at 4x.
Prints one JSON line with what the page saw.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from devkit.fixtures.cameras import SyntheticCameras
from devkit.fixtures.streams import RelayProcess
from devkit.fixtures.wait import settle, wait_for
from tests.streams_browser_driver import CHROMIUM_ARGS
from tests.test_recording import recording, segments

SETUP = """async ([url, token, at]) => {
  const { recordedPlay } = await import('/playback.js');
  const v = document.createElement('video');
  document.body.appendChild(v);
  window.p = await recordedPlay(v, url, token, { at, speed: 1 });
  window.v = v;
}"""
STATE = "() => ({time: window.v.currentTime, wall: window.p.wallTime(), speed: window.p.speed})"


def wait_playing(page, near: float | None = None, speed: float = 1) -> dict:
    """The player's state once it plays at ``speed`` (from within 1.5 s of ``near``, when
    given: a seek has taken effect; segments are 2 s), or the last one after 20 s."""

    def playing(s: dict) -> bool:
        if s["time"] <= 0 or s["wall"] is None or s["speed"] != speed:
            return False
        return near is None or abs(s["wall"] - s["time"] * s["speed"] - near) < 1.5

    return settle(lambda: page.evaluate(STATE), playing, 20)


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="rec-browser-"))
    cams = SyntheticCameras(["cam1"], tmp / "cams.log", mode="loop").start()
    root = tmp / "rec"
    relay = RelayProcess(
        tmp / "relay", {"cam1": cams.url("cam1")}, recording=recording(root, segment_s=2)
    ).start()
    result: dict[str, object] = {}
    try:
        wait_for(lambda: len(segments(root, "cam1")) >= 6, timeout=40, what="footage")
        segs = segments(root, "cam1")
        token = relay.token("cam1", ("playback",))
        ws = f"ws://127.0.0.1:{relay.http_port}/playback/cam1"
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(f"{relay.http}/healthz")
            at = segs[1]["start"] + 1.4
            page.evaluate(SETUP, [ws, token, at])
            first = wait_playing(page)
            at2 = segs[3]["start"] + 0.6
            page.evaluate(f"() => window.p.play({at2}, 1)")
            seek = wait_playing(page, at2)
            page.evaluate(f"() => window.p.play({segs[0]['start']}, 4)")
            fast0 = wait_playing(page, segs[0]["start"], 4)
            time.sleep(2)  # the point: how far 4x playback gets in two seconds of real time
            fast1 = page.evaluate(STATE)
            result = {
                "at": at,
                "first": first,
                "at2": at2,
                "seek": seek,
                "fast0": fast0,
                "fast1": fast1,
            }
            browser.close()
    finally:
        relay.stop()
        cams.stop()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
