"""The Users & roles page (#/users, department admins) and the audit page's signed-root download,
in real Chromium against the demo city (devkit/fixtures/browser.py) -- issue #19."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from devkit.fixtures.browser import UiCity, UiPage
from hub.ui.i18n import load_catalogue

pytestmark = pytest.mark.browser
PASSWORD = "night shift password 42"
#: JS: the status of a sign-in ([user, password]) and of an API call with an API key.
SIGN_IN_STATUS = """async ([u, p]) => (await fetch('/api/v1/auth/token', {method: 'POST',
    body: new URLSearchParams({username: u, password: p})})).status"""
KEY_STATUS = """async (k) => (await fetch('/api/v1/events', {headers: {'X-API-Key': k}})).status"""



def _sign_in(page: Page, user: str, password: str) -> None:
    page.fill("#login-user", user)
    page.fill("#login-password", password)
    page.click("#login-submit")


def _open_users(page: Page) -> None:
    page.click("#nav a[data-page='users']")
    page.wait_for_selector("#page[data-page='users'] #users-table tbody tr")


def _create_user(page: Page, username: str, roles: list[str]) -> None:
    form = page.locator("#user-form")
    form.locator("input[name=username]").fill(username)
    form.locator("input[name=display_name]").fill(f"{username} (ui test)")
    for role in roles:
        form.locator(f"input[name=roles][value={role}]").check()
    form.locator("input[name=password]").fill(PASSWORD)
    page.click("#user-create")
    row = page.locator(f"#users-table tr[data-username='{username}'][data-state='active']")
    expect(row).to_be_visible()
    expect(page.locator("#user-errors li")).to_have_count(0)


def test_an_admin_adds_a_user_who_logs_in(ui_page: UiPage, second_page: UiPage) -> None:
    admin, page = ui_page, ui_page.page
    user, wall = second_page, second_page.page
    en, zh = load_catalogue()["en"], load_catalogue()["zh-CN"]
    admin.login("police-admin")
    expect(page.locator("#nav a[data-page='users']")).to_have_text(en["users.nav"])
    _open_users(page)
    page.click("#user-create")  # nothing filled in: the form says what is missing
    expect(page.locator("#user-errors li")).to_have_count(3)
    _create_user(page, "night.op", ["operator"])
    row = page.locator("#users-table tr[data-username='night.op']")
    expect(row.locator("input[name=roles][value=operator]")).to_be_checked()
    expect(row.locator("input[name=roles][value=admin]")).not_to_be_checked()
    # The same name again: the API's code, translated
    form = page.locator("#user-form")
    form.locator("input[name=username]").fill("night.op")
    form.locator("input[name=roles][value=operator]").check()
    form.locator("input[name=password]").fill(PASSWORD)
    page.click("#user-create")
    expect(page.locator("#user-errors li").first).to_have_text(en["error.username_taken"])
    admin.shot("users-created")

    # The new operator, at another workstation: the wall, no Users & roles page.
    wall.goto(user.city.url)
    _sign_in(wall, "night.op", PASSWORD)
    wall.wait_for_selector("#wall")
    expect(wall.locator("#who")).to_contain_text("night.op")
    expect(wall.locator("#nav a[data-page='users']")).to_be_hidden()
    wall.goto(f"{user.city.url}#/users")  # typed in by hand: the wall instead
    wall.wait_for_selector("#page[data-page='wall'] #wall")
    assert wall.locator("#users-table").count() == 0
    wall.select_option("#language", "zh-CN")  # reloads in Chinese
    wall.wait_for_selector("#page[data-page='wall'] #wall")
    expect(wall.locator("#nav a[data-page='wall']")).to_have_text(zh["core.nav.wall"])

    # The admin disables the user (confirmed): the next sign-in is refused, in Chinese.
    page.once("dialog", lambda d: d.accept())
    row.locator("button.toggle").click()
    expect(row).to_have_attribute("data-state", "disabled")
    expect(row.locator("button.toggle")).to_have_text(en["users.enable"])
    wall.reload()  # the disabled user's token is refused at once: back to the sign-in form
    expect(wall.locator("#login-form")).to_be_visible()
    _sign_in(wall, "night.op", PASSWORD)
    expect(wall.locator("#login-error")).to_have_text(zh["error.login_failed"])
    expect(wall.locator("#shell")).to_be_hidden()
    user.shot("refused-zh")
    assert not admin.errors and not user.errors, (admin.errors, user.errors)


def _held_back(city: UiCity, username: str) -> None:
    """Failed sign-ins of ``username`` from a far desk, enough to hold it back for minutes."""
    city.run_python(
        "import psycopg\n"
        f"with psycopg.connect({city.dsn!r}, autocommit=True) as c:\n"
        "    for kind, source in (('pair', '203.0.113.9'), ('account', '')):\n"
        "        c.execute(\"INSERT INTO login_throttle (kind, username, source, failures,"
        " last_failed_at) VALUES (%s, %s, %s, 12, now())\","
        f" (kind, {username!r}, source))\n")


def test_admin_changes_roles_resets_unlocks_and_manages_keys(ui_page: UiPage) -> None:
    ui, page = ui_page, ui_page.page
    en = load_catalogue()["en"]
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    ui.login("police-admin")
    _open_users(page)
    _create_user(page, "roles.op", ["operator"])
    row = page.locator("#users-table tr[data-username='roles.op']")
    # roles: the save button wakes up on a change, the hub's answer redraws the row
    expect(row.locator("button.save-roles")).to_be_disabled()
    row.locator("input[name=roles][value=analyst]").check()
    row.locator("button.save-roles").click()
    expect(row.locator("input[name=roles][value=analyst]")).to_be_checked()
    expect(row.locator("button.save-roles")).to_be_disabled()
    toast = page.locator("#toast")
    expect(toast).to_have_text(en["users.roles_saved"].replace("{user}", "roles.op"))
    # the admin's own row: no disabling or dropping the admin role of oneself
    mine = page.locator("#users-table tr[data-username='police-admin']")
    expect(mine.locator("button.toggle")).to_be_disabled()
    expect(mine.locator("input[name=roles][value=admin]")).to_be_disabled()
    # password reset: the new one signs in
    row.locator("button.reset").click()
    row.locator("input[name=new-password]").fill("short")
    row.locator("form.resetbox button[type=submit]").click()
    expect(toast).to_have_text(en["users.form.need_password"])
    row.locator("input[name=new-password]").fill("a brand new password")
    row.locator("form.resetbox button[type=submit]").click()
    expect(toast).to_have_text(en["users.reset_done"].replace("{user}", "roles.op"))
    assert page.evaluate(SIGN_IN_STATUS, ["roles.op", "a brand new password"]) == 200
    # held back by failed sign-ins: shown, and lifted by Unlock
    _held_back(ui.city, "roles.op")
    page.reload()
    expect(row).to_have_attribute("data-locked", "true")
    expect(row.locator(".us-locked")).to_be_visible()
    ui.shot("users-locked")
    row.locator("button.unlock").click()
    expect(row).to_have_attribute("data-locked", "false")
    expect(row.locator("button.unlock")).to_have_count(0)

    # An API key: the secret shown once, with a copy button and the warning; then revoked.
    keys = page.locator("#key-form")
    page.click("#key-create")
    expect(page.locator("#key-errors li")).to_have_count(2)  # name, role
    keys.locator("input[name=name]").fill("ui-test-integration")
    keys.locator("input[name=roles][value=analyst]").check()
    page.click("#key-create")
    box = page.locator("#key-secret-box")
    expect(box).to_be_visible()
    expect(box.locator("p.warning")).to_have_text(en["users.key.secret_warning"])
    secret = page.input_value("#key-secret")
    assert len(secret) >= 20, secret
    page.click("#key-copy")
    expect(toast).to_have_text(en["users.key.copied"])
    assert page.evaluate("navigator.clipboard.readText()") == secret
    key_row = page.locator("#keys-table tr:has-text('ui-test-integration')")
    expect(key_row).to_have_attribute("data-state", "active")
    ui.shot("users-key-secret")
    page.click("#key-secret-done")
    expect(box).to_have_count(0)
    page.reload()  # shown once: the key is listed, its secret nowhere on the page
    expect(key_row).to_be_visible()
    assert secret not in page.content()
    page.once("dialog", lambda d: d.accept())
    key_row.locator("button.revoke").click()
    expect(key_row).to_have_attribute("data-state", "revoked")
    assert page.evaluate(KEY_STATUS, secret) == 401
    assert not ui.errors, ui.errors


def test_an_auditor_downloads_the_signed_daily_root(ui_page: UiPage) -> None:
    ui, page = ui_page, ui_page.page
    ui.login("police-admin")  # the demo's admins are auditors too
    page.click("#nav a[data-page='audit']")
    page.wait_for_selector("#audit-chain[data-ok='true']")
    today = datetime.now(UTC).date().isoformat()
    page.fill("#root-day", today)
    with page.expect_download() as info:
        page.click("#root-download")
    download = info.value
    assert download.suggested_filename == f"audit-root-{today}.json"
    root = json.loads(Path(download.path()).read_text())
    assert root["date"] == today and root["head_seq"] > 0 and root["signature"]
    ui.shot("audit-root")
    assert not ui.errors, ui.errors
