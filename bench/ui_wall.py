"""Video-wall start-up in real Chromium: time from "camera dropped on a tile" to the tile
showing live WebRTC video, through the UI (play token from the API, the hub's relay gateway,
WHEP, first decoded frame), beside a baseline measured in the same run doing the same work
without the UI: in the relay's own player page, already loaded, the relay's WHEP client
(streams/web/whep.js) plays the same camera into a fresh <video> (no API call, no gateway).
Neither side includes a page load. Also: a 4-tile wall from page load to all four tiles live
(a UI figure, no baseline). Runs the demo city and Chromium in a private network namespace
(loopback only). A tile or player that does not play in time makes the run invalid.

    python -m bench.ui_wall [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

from bench.report import finish
from devkit.fixtures.browser import demo_in_namespace, launch_chromium, network_namespace

CAMERAS = ["sc-xinhua-1", "sc-xinhua-2", "tr-renmin-1", "bus-101-1"]


def _summary(samples: list[float]) -> dict[str, object]:
    return {"median_ms": round(statistics.median(samples), 1), "min_ms": round(min(samples), 1),
            "max_ms": round(max(samples), 1), "samples_ms": [round(s, 1) for s in samples]}


#: In the loaded player page: play ``cam`` with ``token`` into a new <video>; resolve at its
#: first decoded frame (what a tile's "live" means).
BARE_PLAY = """async ([cam, token]) => {
  const { whepPlay } = await import('./whep.js');
  document.querySelectorAll('video').forEach(v => { v.srcObject = null; v.remove(); });
  if (window.session && window.session.stop) window.session.stop();
  const v = document.createElement('video');
  v.muted = true; v.autoplay = true; v.playsInline = true; document.body.append(v);
  window.session = await whepPlay(v, './whep/' + encodeURIComponent(cam), token);
  await new Promise((ok, fail) => {
    const t = setTimeout(() => fail(new Error('no frame in 30 s')), 30000);
    const check = () => (v.currentTime > 0 && v.videoWidth > 0)
      ? (clearTimeout(t), ok()) : requestAnimationFrame(check);
    check();
  });
}"""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--timeout", type=float, default=30.0,
                   help="seconds a tile has to play (the 4-tile wall twice that)")
    args = p.parse_args(argv)
    try:
        ui_ms, base_ms, wall_ms = measure(args.rounds, args.timeout * 1000)
    except PlaywrightError as exc:  # a tile or player that did not play in time
        return finish("ui_wall", {"rounds": args.rounds}, [f"did not play: {exc}"[:500]])
    return finish("ui_wall", {
        "rounds": args.rounds,
        "ui_tile_drop_to_live": _summary(ui_ms),
        "baseline_relay_whep_first_frame": _summary(base_ms),
        "ui_overhead_median_ms": round(statistics.median(ui_ms) - statistics.median(base_ms), 1),
        "wall_4_tiles_page_load_to_all_live": _summary(wall_ms),
        "notes": "demo city (640x360 15 fps GOP 1 s H.264) and Chromium in one network namespace; "
                 "UI = play token API + hub gateway + WHEP + first frame; baseline = the relay's "
                 "WHEP client in its already-loaded player page (WHEP + first frame); no page "
                 "load on either side",
    })


def measure(rounds: int, timeout_ms: float = 30000,
            ) -> tuple[list[float], list[float], list[float]]:
    ui_ms: list[float] = []
    base_ms: list[float] = []
    wall_ms: list[float] = []
    with network_namespace(f"chbench{os.getpid()}") as ns, demo_in_namespace(ns) as city, \
            tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        city.run_python(f"from devkit.fixtures.browser import seed; seed({city.dsn!r})")
        browser = launch_chromium(pw, ns, Path(tmp))
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        page.goto(city.url)
        page.fill("#login-user", "police-operator")
        page.fill("#login-password", city.logins["police-operator"])
        page.click("#login-submit")
        page.wait_for_selector("#wall")
        bare = browser.new_page()
        bare.goto(f"{city.relay}/player?camera=none")  # loaded once, before any timing
        for _ in range(rounds):
            for cam in CAMERAS:
                page.click("button[data-preset='1']")
                t0 = time.perf_counter()
                page.dblclick(f".cam[data-camera='{cam}']")
                page.wait_for_function(
                    f"() => {{ const e = document.querySelector(\".tile[data-camera='{cam}']\");"
                    " return e && e.dataset.status === 'live'; }", timeout=timeout_ms)
                ui_ms.append((time.perf_counter() - t0) * 1000)
                token = page.evaluate(
                    """async cam => {
                    const t = JSON.parse(sessionStorage.getItem('cityhub.tokens'));
                    const r = await fetch(`/api/v1/cameras/${cam}/play`, {method: 'POST',
                      headers: {Authorization: 'Bearer ' + t.access_token,
                                'Content-Type': 'application/json'},
                      body: JSON.stringify({protocols: ['webrtc']})});
                    return (await r.json()).token; }""", cam)
                t0 = time.perf_counter()
                bare.evaluate(BARE_PLAY, [cam, token])
                base_ms.append((time.perf_counter() - t0) * 1000)
            # The 4-tile wall from a page load (layout kept in the session) to all four live.
            page.click("button[data-preset='4']")
            for cam in CAMERAS:
                if not page.query_selector(f".tile[data-camera='{cam}']"):
                    page.dblclick(f".cam[data-camera='{cam}']")
            page.wait_for_function("() => [...document.querySelectorAll('.tile')]"
                                   ".every(e => e.dataset.status === 'live')",
                                   timeout=2 * timeout_ms)
            t0 = time.perf_counter()
            page.reload()
            page.wait_for_function("() => { const t = [...document.querySelectorAll('.tile')];"
                                   " return t.length === 4 && t.every(e => e.dataset.status"
                                   " === 'live'); }", timeout=2 * timeout_ms)
            wall_ms.append((time.perf_counter() - t0) * 1000)
        browser.close()
    return ui_ms, base_ms, wall_ms


if __name__ == "__main__":
    sys.exit(main())
