"""Recordings in the control room (#17), in real Chromium against the demo city, which
records sc-xinhua-1 and tr-renmin-1 continuously: the timeline under a wall tile shows
recorded ranges, a click plays the recording from that moment through the hub's gateway and
"Live" returns to live; the event console plays from 10 s before an event; the health page
shows recording state and disk use. Screenshots of the timeline in both languages."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from devkit.fixtures.browser import UiPage
from devkit.fixtures.wait import wait_for

pytestmark = pytest.mark.browser
CAMERA = "sc-xinhua-1"  # police's own, recorded continuously by the demo
TILE = f".tile[data-camera='{CAMERA}']"

EVENT = """
import asyncio, psycopg
from datetime import UTC, datetime, timedelta
from adapters.model import Event
from hub.store.writer import BatchWriter
async def go():
    async with await psycopg.AsyncConnection.connect({dsn!r}) as conn:
        await BatchWriter().write(conn, events=[Event(
            occurred_at=datetime.fromtimestamp({at}, UTC), kind="recording_check", severity=2,
            source_system="safecity", department="police", site="xinhua-5th",
            camera={camera!r}, attributes={{"reason": "ui recording test"}})])
        await conn.commit()
asyncio.run(go())
"""

#: Recorded ranges of a camera through the gateway, with a fresh playback token.
RANGES = """async ([cam, start, end]) => {
  const t = JSON.parse(sessionStorage.getItem('cityhub.tokens')).access_token;
  const p = await (await fetch('/api/v1/cameras/' + cam + '/play', {method: 'POST',
    headers: {Authorization: 'Bearer ' + t, 'Content-Type': 'application/json'},
    body: JSON.stringify({protocols: ['playback']})})).json();
  const q = new URLSearchParams({start, end, token: p.token});
  const r = await fetch('/ui/relay/recordings/' + cam + '/segments?' + q);
  if (!r.ok) return [r.status, await r.text()];
  return (await r.json()).segments.map(s => [s.start, s.end]);
}"""


def wait_recorded(ui: UiPage, when: Callable[[], float]) -> None:
    """Until closed segments hold the instant ``when()`` (asked again each time: the demo
    may have only just started recording; segments close every 10 s)."""
    seen: list[Any] = []

    def held() -> bool:
        at = when()
        segs = ui.page.evaluate(RANGES, [CAMERA, at - 60, at + 60])
        seen[:] = [at, segs]
        ranges: list[list[float]] = []
        for s, e in sorted(segs):
            if ranges and s - ranges[-1][1] <= 0.5:
                ranges[-1][1] = max(ranges[-1][1], e)
            else:
                ranges.append([s, e])
        return any(s <= at - 2 and e >= at + 5 for s, e in ranges)
    wait_for(held, 90, lambda: f"footage of {CAMERA} (instant, segments: {seen})")


def frames(ui: UiPage, video: str) -> int:
    return int(ui.page.evaluate(
        f"Number(document.querySelector({json.dumps(video)}).dataset.frames || 0)"))


def plays_recording_near(ui: UiPage, root: str, target: float) -> None:
    """The video under ``root`` plays recorded footage (frames advance) and its clock shows
    about ``target`` and moves on."""
    page, video = ui.page, f"{root} video"
    page.wait_for_selector(f"{root} .rectimeline[data-mode='playback']")
    clock = f"Number(document.querySelector({json.dumps(root + ' .tl-clock')}).dataset.at || 0)"
    first = wait_for(lambda: page.evaluate(clock), 30, "the playback clock")
    assert target - 6 <= first <= target + 6, (first, target)
    start = frames(ui, video)
    wait_for(lambda: frames(ui, video) > start + 15, 30, "recorded frames to advance")
    assert page.evaluate(f"document.querySelector({json.dumps(video)}).dataset.mode") == "playback"
    later = page.evaluate(clock)
    assert first < later <= target + 30, (first, later, target)


def open_timeline(ui: UiPage) -> None:
    page = ui.page
    page.hover(TILE)
    page.click(f"{TILE} button[data-action='timeline']")
    page.wait_for_selector(f"{TILE} .rectimeline .tl-rec", timeout=60000)


def seek_20s_ago(ui: UiPage) -> float:
    """Zooms the tile's timeline to 5 min and clicks where "20 s ago" is; that instant."""
    page = ui.page
    page.click(f"{TILE} .tl-zoom[data-zoom='in']")
    page.click(f"{TILE} .tl-zoom[data-zoom='in']")  # 1 h -> 5 min
    page.wait_for_selector(f"{TILE} .tl-rec")
    box = page.locator(f"{TILE} .tl-track").bounding_box()
    assert box
    target = time.time() - 20
    page.mouse.click(box["x"] + box["width"] * (1 - 20 / 300),
                     box["y"] + box["height"] / 2)
    return target


def test_timeline_under_a_tile_plays_the_recording_and_returns_to_live(ui_page: UiPage) -> None:
    ui, page = ui_page, ui_page.page
    ui.login("police-operator")
    page.click("button[data-preset='1']")
    page.dblclick(f".cam[data-camera='{CAMERA}']")
    page.wait_for_selector(f"{TILE}[data-status='live']", timeout=40000)
    wait_recorded(ui, lambda: time.time() - 20)
    open_timeline(ui)
    plays_recording_near(ui, TILE, seek_20s_ago(ui))
    assert page.get_attribute(TILE, "data-status") == "playback"
    ui.shot("en-timeline")
    # Pause holds the picture; resume plays on.
    page.click(f"{TILE} .tl-pause")
    page.wait_for_function(f"document.querySelector({json.dumps(TILE + ' video')}).paused")
    page.click(f"{TILE} .tl-pause")
    start = frames(ui, f"{TILE} video")
    wait_for(lambda: frames(ui, f"{TILE} video") > start + 10, 30, "frames after resume")
    # Back to live: the tile's live player takes the video again.
    page.click(f"{TILE} .tl-live")
    page.wait_for_selector(f"{TILE}[data-status='live']", timeout=40000)
    assert page.get_attribute(f"{TILE} .rectimeline", "data-mode") == "live"
    start = frames(ui, f"{TILE} video")
    wait_for(lambda: frames(ui, f"{TILE} video") > start + 15, 30, "live frames")
    # The same timeline in Chinese (the layout stays for the tab).
    ui.use_chinese()
    page.wait_for_selector(f"{TILE}[data-status='live']", timeout=40000)
    open_timeline(ui)
    plays_recording_near(ui, TILE, seek_20s_ago(ui))
    assert page.inner_text(f"{TILE} .tl-live") == "实时"
    ui.shot("zh-timeline")
    assert not ui.errors, ui.errors


def test_event_console_plays_from_ten_seconds_before_and_health_shows_recording(
        ui_page: UiPage) -> None:
    ui, page = ui_page, ui_page.page
    ui.login("police-operator")
    wait_recorded(ui, lambda: time.time() - 20)  # recording for a while already
    occurred = round(time.time() - 5, 3)
    ui.city.run_python(EVENT.format(dsn=ui.city.dsn, at=occurred, camera=CAMERA))
    wait_recorded(ui, lambda: occurred - 10)
    page.click("#nav a[data-page='events']")
    page.fill("#f-kind", "recording_check")
    page.click("#search")
    page.wait_for_function("document.querySelector('#result-info').textContent.startsWith('1 ')")
    page.click("#events-table tbody tr")
    page.click("#event-play")
    plays_recording_near(ui, "#full-player", occurred - 10)
    # The event is a marker on the full-screen player's timeline.
    page.wait_for_selector("#full-player .tl-event")
    ui.shot("event-playback")
    page.click("#full-player-close")
    page.wait_for_selector("#full-player", state="detached")
    # Health: both recorded cameras police may see, recording, and the disk they fill.
    page.click("#nav a[data-page='health']")
    for cam in ("sc-xinhua-1", "tr-renmin-1"):
        page.wait_for_selector(f"#recording-table tr[data-camera='{cam}'][data-state='recording']")
    page.wait_for_selector("#recording-storage .disk .diskbar .rec")
    ui.shot("health-recording")
    assert not ui.errors, ui.errors


def test_recording_state_is_filtered_to_the_callers_cameras(ui_page: UiPage) -> None:
    ui, page = ui_page, ui_page.page
    ui.login("citymgmt-operator")  # sees cm-river-1 only, which is not recorded
    state = page.evaluate("""async () => {
        const t = JSON.parse(sessionStorage.getItem('cityhub.tokens')).access_token;
        const r = await fetch('/ui/relay/recordings', {headers: {Authorization: 'Bearer ' + t}});
        return [r.status, await r.json()]; }""")
    assert state[0] == 200
    assert state[1]["cameras"] == {}
    assert state[1]["storage"] and all("free_bytes" in s for s in state[1]["storage"])
