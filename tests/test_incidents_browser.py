"""An alarm to a closed case between two departments, in real Chromium against the demo city:
an overweight verdict at the G108 station becomes (by the demo's rule) an incident of the
overload office dispatched to the traffic police, who see the station's lane camera while
the case is open, handle it and report back; the overload office verifies and closes it,
and the traffic police lose the camera."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import FilePayload

from devkit.fixtures.browser import UiPage
from devkit.fixtures.wait import wait_for

pytestmark = pytest.mark.browser
CAMERA = "ov-g108-1"

ALARM = """
import asyncio, psycopg
from datetime import UTC, datetime
from adapters.model import Event
from hub.store.writer import BatchWriter
async def go():
    async with await psycopg.AsyncConnection.connect({dsn!r}) as conn:
        await BatchWriter().write(conn, events=[Event(occurred_at=datetime.now(UTC),
            kind="overweight_vehicle", severity=2, source_system="overload",
            department="overload", site="g108-wim", camera={camera!r},
            attributes={{"plate": "川A12345", "gross_kg": 61000}})])
        await conn.commit()
asyncio.run(go())
"""


def _png() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (120, 90), (30, 120, 200)).save(buf, "PNG")
    return buf.getvalue()


def camera_status(ui: UiPage) -> int:
    return int(ui.page.evaluate(
        """async (cam) => {
        const t = JSON.parse(sessionStorage.getItem('cityhub.tokens')).access_token;
        const r = await fetch('/api/v1/cameras/' + cam, {headers: {Authorization: 'Bearer ' + t}});
        return r.status; }""", CAMERA))


def switch(ui: UiPage, user: str) -> None:
    ui.page.click("#logout")
    ui.login(user)


def act(ui: UiPage, action: str, state: str) -> None:
    page = ui.page
    page.click(f"#inc-actions button[data-action='{action}']")
    page.wait_for_selector(f".inchead .badge[data-state='{state}']")


def test_alarm_to_closed_case_between_two_departments(ui_page: UiPage) -> None:
    ui, page = ui_page, ui_page.page
    ui.login("traffic-operator")
    assert camera_status(ui) == 404  # not shared before
    ui.city.run_python(ALARM.format(dsn=ui.city.dsn, camera=CAMERA))
    # Traffic's queue: the dispatched case arrives (rule listener), with its countdown.
    page.goto(ui.city.url + "#/incidents?side=assigned")
    page.wait_for_selector("#inc-list .inc-row[data-state='dispatched']", timeout=90000)
    page.click("#inc-list .inc-row[data-state='dispatched']")
    page.wait_for_selector("#inc-actions button[data-action='start']")
    incident = page.evaluate("new URLSearchParams(location.hash.split('?')[1]).get('id')")
    page.wait_for_selector(f".incvideo[data-camera='{CAMERA}']")
    assert camera_status(ui) == 200  # shared while the case is open
    assert page.inner_text("#inc-due")  # a countdown to the time limit
    act(ui, "start", "in_progress")
    # Field staff on a phone: the page fits, and a photo goes up from the camera input.
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.set_input_files("#inc-photo", files=[FilePayload(name="scene.png", mimeType="image/png",
                                                          buffer=_png())])
    page.wait_for_selector("#inc-timeline li[data-action='photo']")
    page.wait_for_function("[...document.querySelectorAll('.incphotos img')]"
                           ".some(i => i.complete && i.naturalWidth === 120)")
    ui.shot("traffic-phone")
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.fill(".inccomment input[name='body']", "Truck stopped at the toll gate")
    page.click(".inccomment button")
    page.wait_for_selector("#inc-timeline li[data-action='comment']")
    act(ui, "resolve", "resolved")
    ui.shot("traffic-resolved")
    # The overload office verifies and closes.
    switch(ui, "overload-operator")
    page.goto(ui.city.url + f"#/incidents?id={incident}")
    page.wait_for_selector("#inc-actions button[data-action='verify']")
    act(ui, "verify", "verified")
    act(ui, "close", "closed")
    actions = page.eval_on_selector_all("#inc-timeline li", "els => els.map(e => e.dataset.action)")
    # The demo's station keeps weighing: later alarms on the same camera merge into the case.
    actions = [a for a in actions if a != "merge"]
    assert actions[:2] == ["create", "dispatch"], actions
    assert actions[-6:] == ["start", "photo", "comment", "resolve", "verify", "close"], actions
    closed = time.monotonic()
    ui.shot("overload-closed")
    # Traffic loses the camera within 5 s of closing.
    switch(ui, "traffic-operator")
    wait_for(lambda: camera_status(ui) == 404, 5 - (time.monotonic() - closed),
             "the camera no longer shared within 5 s of closing", step=0.2)
    page.goto(ui.city.url + "#/incident-stats")
    page.wait_for_selector(".statcards .statcard")
    assert not ui.errors, ui.errors
