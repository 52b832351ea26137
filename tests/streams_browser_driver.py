"""Run inside a network namespace by tests/test_streams_browser.py (not a test itself).

Starts a synthetic camera and a relay (children, same namespace), plays the
camera over WHEP in Debian's headless Chromium driven by Playwright, and prints
one JSON line with what the page saw. ``--no-webrtc-path``: the namespace has only its
loopback, where neither Chromium nor aioice gathers an ICE candidate, so WebRTC cannot
connect (as behind a UDP-blocking firewall) and the player must fall back to fMP4.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from devkit.fixtures.cameras import SyntheticCameras
from devkit.fixtures.picture import (
    VIDEO_PNG_JS,
    picture_problems,
    png_data_url_to_rgb,
    rtsp_picture,
)
from devkit.fixtures.streams import RelayProcess
from devkit.fixtures.wait import settle

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]

STATS = """() => {
  const v = document.querySelector('video');
  const q = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : {};
  return {time: v.currentTime, frames: q.totalVideoFrames || 0, width: v.videoWidth,
          status: document.getElementById('status').textContent,
          transport: document.getElementById('transport').textContent};
}"""


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--no-webrtc-path", action="store_true", help="namespace has only lo")
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="browser-"))
    # Four slices per picture, as many real cameras send: the picture must arrive whole.
    cams = SyntheticCameras(["cam1"], tmp / "cams.log", mode="loop", slices=4).start()
    # ICE host restricted by interface name (streams.ice_hosts): the namespace's dummy interface.
    ice = [] if a.no_webrtc_path else ["cityhub0"]
    relay = RelayProcess(tmp / "relay", {"cam1": cams.url("cam1")}, ice_hosts=ice).start()
    result: dict[str, object] = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page()
            token = relay.token("cam1", ("webrtc", "fmp4"))
            page.goto(f"{relay.http}/player?camera=cam1&token={token}&connect_ms=4000")
            first = settle(lambda: page.evaluate(STATS),
                           lambda s: s["time"] > 0 and s["width"] > 0, 30, step=0.2)
            second = settle(lambda: page.evaluate(STATS),  # until the video has moved on
                            lambda s: s["time"] > first["time"] + 1.0
                            and s["frames"] > first["frames"] + 10, 20, step=0.2)
            samples = []
            for _ in range(4):  # the picture the viewer sees, across more than one GOP
                url = page.eval_on_selector("video", VIDEO_PNG_JS)
                if url:
                    samples.append(png_data_url_to_rgb(url))
                time.sleep(0.3)  # the point: samples spread over more than one GOP
            problems = picture_problems(samples, rtsp_picture(cams.url("cam1")))
            result = {
                "first": first,
                "second": second,
                "health": relay.health("cam1"),
                "picture_samples": len(samples),
                "picture_problems": problems,
            }
            browser.close()
    finally:
        relay.stop()
        cams.stop()
    result["relay_log_tail"] = relay.log.read_text()[-1500:]
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
    sys.exit(0)
