"""The admin pages of the control room (#/sharing, #/audit, #/dead-letters): first the API
they rest on (audit filters and newest-first paging, incident-bound grants, ended view
sessions), then the pages in real Chromium against the demo city (devkit/fixtures/browser.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import Page

from devkit.fixtures.browser import VISIBLE_TEXT, UiPage, catalogue_english
from devkit.fixtures.hubapi import HubApi
from hub.ui.i18n import load_catalogue

CAMERA = "tr-renmin-1"  # traffic's camera, shared with citymgmt through the Sharing form


def _grant(hub: HubApi, grantor: str, grantee: str, purpose: str) -> dict:
    r = hub.client.post("/api/v1/grants", headers=hub.headers(grantor), json={
        "grantee": grantee, "resources": ["events"], "purpose": purpose,
        "expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()})
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_audit_filters_by_prefix_actor_and_time_newest_first(hub_api: HubApi) -> None:
    c, police = hub_api.client, hub_api.headers("police")
    first = _grant(hub_api, "police", "traffic", "first share")
    second = _grant(hub_api, "police", "bus", "second share")
    assert c.post(f"/api/v1/grants/{first['id']}/revoke", headers=police).status_code == 200
    page = c.get("/api/v1/audit", headers=police,
                 params={"action_prefix": "grant.", "before_seq": 2**62, "limit": 2}).json()
    assert [e["action"] for e in page["items"]] == ["grant.revoke", "grant.create"]
    assert page["items"][1]["target_id"] == second["id"]
    assert page["next_before_seq"] == page["items"][1]["seq"] and page["next_after_seq"] is None
    rest = c.get("/api/v1/audit", headers=police, params={
        "action_prefix": "grant.", "before_seq": page["next_before_seq"]}).json()
    assert [e["target_id"] for e in rest["items"]] == [first["id"]]
    assert rest["next_before_seq"] is None
    mine = c.get("/api/v1/audit", headers=police, params={"actor": "police-chief"}).json()
    assert mine["items"] and all("police-chief" in e["actor"] for e in mine["items"])
    assert not c.get("/api/v1/audit", headers=police, params={"actor": "nobody-"}).json()["items"]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert not c.get("/api/v1/audit", headers=police, params={"since": future}).json()["items"]
    assert c.get("/api/v1/audit", headers=police, params={"until": future}).json()["items"]
    bad = c.get("/api/v1/audit", headers=police, params={"action_prefix": "grant.%"})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid"


def test_incident_bound_grants_are_marked_and_not_revoked_by_hand(hub_api: HubApi) -> None:
    c, traffic = hub_api.client, hub_api.headers("traffic")
    inc = c.post("/api/v1/incidents", headers=traffic,
                 json={"title": "crash at Renmin", "kind": "crash", "priority": 2})
    assert inc.status_code == 201, inc.text
    sent = c.post(f"/api/v1/incidents/{inc.json()['id']}/actions/dispatch", headers=traffic,
                  json={"version": inc.json()["version"], "assignees": [{"department": "police"}]})
    assert sent.status_code == 200, sent.text  # police sees the incident (and its number)
    grant = _grant(hub_api, "traffic", "police", "incident share")
    with hub_api.owner() as conn:
        conn.execute("UPDATE access_grants SET incident_id = %s WHERE id = %s",
                     (inc.json()["id"], grant["id"]))
    for side in ("traffic", "police"):
        listed = {g["id"]: g for g in c.get("/api/v1/grants", headers=hub_api.headers(side)).json()}
        assert listed[grant["id"]]["incident_number"] == inc.json()["number"], side
        assert listed[grant["id"]]["incident_id"] == inc.json()["id"], side
    r = c.post(f"/api/v1/grants/{grant['id']}/revoke", headers=traffic)
    assert r.status_code == 409 and r.json()["code"] == "grant_incident_bound"
    assert c.get(f"/api/v1/grants/{grant['id']}", headers=traffic).json()["active"]
    short = c.post("/api/v1/grants", headers=traffic, json={
        "grantee": "police", "resources": ["events"], "purpose": " ab ",
        "expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()})
    assert short.status_code == 422 and "purpose" in short.json()["detail"]


def test_view_sessions_say_why_the_hub_ended_them(hub_api: HubApi) -> None:
    sid = uuid.uuid4()
    with hub_api.owner() as conn:
        conn.execute(
            "INSERT INTO view_sessions (id, camera_id, department_id, viewer, protocols,"
            " expires_at, ended_at, ended_code, ended_reason) VALUES (%s, 'cam-x', 'police',"
            " 'user:police-chief', '{webrtc}', now() + interval '1 minute', now(),"
            " 'grant_revoked', 'the grant was revoked')", (sid,))
    rows = hub_api.client.get("/api/v1/streams/sessions", headers=hub_api.headers("police")).json()
    row = next(r for r in rows if r["id"] == str(sid))
    assert row["ended_code"] == "grant_revoked" and row["ended_reason"] == "the grant was revoked"
    assert row["ended_at"] is not None


# --- the pages in Chromium -------------------------------------------------------------------

PURPOSE = "ui test: Renmin camera for city management"
#: Revokes a grant with the signed-in page's token (clean-up when a test fails half-way).
REVOKE_JS = """async (id) => {
    const t = JSON.parse(sessionStorage.getItem('cityhub.tokens')).access_token;
    return (await fetch('/api/v1/grants/' + id + '/revoke', {method: 'POST',
        headers: {Authorization: 'Bearer ' + t}})).status; }"""



def _tile_status(page: Page, camera: str, status: str, timeout: float = 40_000) -> None:
    page.wait_for_function(
        "([c, s]) => document.querySelector(`.tile[data-camera='${c}']`)?.dataset.status === s",
        arg=[camera, status], timeout=timeout)


def _share_through_the_form(page: Page) -> str:
    """traffic-admin shares CAMERA's live video with citymgmt; the new row's grant id."""
    page.click("#nav a[data-page='sharing']")
    page.wait_for_selector("#grant-form")
    page.click("#grant-create")  # nothing filled in: the form says what is missing
    page.wait_for_selector("#grant-errors li")
    assert page.locator("#grant-errors li").count() == 3  # grantee, resource, purpose
    form = page.locator("#grant-form")
    form.locator("select[name=grantee]").select_option("citymgmt")
    form.locator("input[name=resources][value=video]").check()
    form.locator("input[name=resources][value=playback]").check()  # shows the window...
    form.locator("input[name=playback_from]").wait_for()
    form.locator("input[name=resources][value=playback]").uncheck()
    form.locator(f"input[name=cameras][value='{CAMERA}']").check()
    form.locator("input[name=purpose]").fill("ok")  # too short
    page.click("#grant-create")
    page.wait_for_function("document.querySelectorAll('#grant-errors li').length === 1")
    form.locator("input[name=purpose]").fill(PURPOSE)
    page.click("#grant-create")
    row = page.wait_for_selector(f"#grants-given tr[data-state='active']:has-text('{PURPOSE}')")
    assert row is not None
    assert page.locator("#grant-errors li").count() == 0
    text = row.inner_text()
    assert "citymgmt" in text and CAMERA in text and "Live video" in text, text
    return str(row.get_attribute("data-id"))


def test_admin_shares_a_camera_audits_it_and_takes_it_back(
        ui_page: UiPage, second_page: UiPage) -> None:
    admin, page = ui_page, ui_page.page
    viewer, wall = second_page, second_page.page
    admin.login("traffic-admin")
    for entry in ("sharing", "audit"):
        assert page.is_visible(f"#nav a[data-page='{entry}']"), entry
    grant = _share_through_the_form(page)
    try:
        admin.shot("sharing-given")
        # City management's operator: no admin pages, but the shared camera on the wall.
        viewer.login("citymgmt-operator")
        for entry in ("sharing", "audit"):
            assert wall.is_hidden(f"#nav a[data-page='{entry}']"), entry
        wall.goto(f"{viewer.city.url}#/sharing")  # typed in by hand: the wall instead
        wall.wait_for_selector("#page[data-page='wall'] #wall")
        wall.wait_for_selector(f".cam[data-camera='{CAMERA}']")
        wall.dblclick(f".cam[data-camera='{CAMERA}']")
        _tile_status(wall, CAMERA, "live")

        # Revoke, confirmed in a dialog: the row turns revoked at once, the view ends.
        page.once("dialog", lambda d: d.accept())
        page.click(f"#grants-given tr[data-id='{grant}'] button.revoke")
        page.wait_for_selector(f"#grants-given tr[data-id='{grant}'][data-state='revoked']")
        assert page.locator(f"#grants-given tr[data-id='{grant}'] button.revoke").count() == 0
        _tile_status(wall, CAMERA, "offline", timeout=20_000)
        wall.reload()
        wall.wait_for_selector(".cam[data-camera='cm-river-1']")  # the list is there...
        assert wall.locator(f".cam[data-camera='{CAMERA}']").count() == 0  # ...without it
    finally:
        if page.locator(f"#grants-given tr[data-id='{grant}'][data-state='active']").count():
            page.evaluate(REVOKE_JS, grant)

    # The audit log (newest first) has both, with the grant as their target.
    page.click("#nav a[data-page='audit']")
    page.wait_for_selector("#audit-chain[data-ok='true']")
    page.click("#audit-filters button[data-prefix='grant.']")
    page.wait_for_selector("#audit-table tr[data-action='grant.revoke']")
    rows = page.eval_on_selector_all("#audit-table tbody tr", "rs => rs.map(r => r.innerText)")
    actions = [r.split("\t")[2] for r in rows if grant in r]
    assert actions[:2] == ["grant.revoke", "grant.create"], rows
    assert all(r.split("\t")[2].startswith("grant.") for r in rows), rows
    admin.shot("audit-log")
    # The Views tab: citymgmt's view of the camera, ended by the hub when access went.
    page.click(".tabs button[data-tab='views']")
    ended = page.wait_for_selector(f"#views-table tr[data-camera='{CAMERA}']"
                                   ":has-text('citymgmt-operator')"
                                   " td.ended:has-text('access_revoked')")
    assert ended is not None
    admin.shot("audit-views")
    assert not admin.errors and not viewer.errors, (admin.errors, viewer.errors)


def test_admin_pages_in_chinese(ui_page: UiPage) -> None:
    ui, page = ui_page, ui_page.page
    cat, english = load_catalogue(), catalogue_english()
    ui.login("traffic-admin")
    ui.use_chinese()
    page.wait_for_selector("#wall")
    for name, ready in (("sharing", "#grants-given tbody tr"), ("audit", "#audit-chain[data-ok]")):
        page.click(f"#nav a[data-page='{name}']")
        page.wait_for_selector(ready)
        page.wait_for_load_state("networkidle")
        ui.shot(f"zh-{name}")
        assert page.inner_text(f"#nav a[data-page='{name}']") == cat["zh-CN"][f"admin.nav.{name}"]
        shown = page.evaluate(VISIBLE_TEXT)
        left = sorted({s for s in shown if s in english})
        assert not left, f"{name}: English left on the Chinese page: {left}"
    assert not ui.errors, ui.errors


def test_dead_letters_page_in_chinese_shows_a_letter_and_hands_its_payload_over(
        ui_page: UiPage) -> None:
    """A traffic system's refused message: in the chart, the topics and the list (Chinese),
    with its payload downloaded byte for byte."""
    ui, page = ui_page, ui_page.page
    topic = "city/traffic/renmin-2nd/traffic/native/anpr-json"
    payload = '{"plate": "京A12345", "speed_kmh": "88"'.encode()
    letter = ui.city.run_python(  # the demo's database answers inside its namespace only
        "import psycopg\n"
        f"with psycopg.connect({ui.city.dsn!r}, autocommit=True) as c:\n"
        "    print(c.execute(\"INSERT INTO dead_letters (topic, reason, payload, payload_size,"
        " department_id) VALUES (%s, 'speed_kmh: a number, not a string', %s, %s, 'traffic')"
        f" RETURNING id\", ({topic!r}, {payload!r}, {len(payload)})).fetchone()[0])\n").strip()
    row = (int(letter),)
    ui.login("traffic-admin")
    ui.use_chinese()
    page.wait_for_selector("#wall")
    page.click("#nav a[data-page='dead-letters']")
    page.wait_for_selector(f"#dead-rows tr[data-id='{row[0]}']")
    page.wait_for_selector(f"#dead-topics tr[data-topic='{topic}']")
    page.wait_for_selector("#dead-chart canvas")
    page.wait_for_load_state("networkidle")
    text = page.inner_text(f"#dead-rows tr[data-id='{row[0]}']")
    assert "speed_kmh: a number, not a string" in text and "京A12345" in text, text
    ui.shot("zh-dead-letters")
    left = sorted({s for s in page.evaluate(VISIBLE_TEXT) if s in catalogue_english()})
    assert not left, f"English left on the Chinese page: {left}"
    with page.expect_download() as info:
        page.click(f"#dead-rows tr[data-id='{row[0]}'] button.payload")
    assert Path(info.value.path()).read_bytes() == payload
    assert not ui.errors, ui.errors
