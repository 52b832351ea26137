"""The control room in Chinese: every visible string of every page comes from the Chinese
catalogue, and each page is kept as a screenshot in both languages (test-artifacts/ui/)."""

from __future__ import annotations

import re

import pytest

from devkit.fixtures.browser import VISIBLE_TEXT, UiPage, catalogue_english
from hub.ui.i18n import load_catalogue

pytestmark = pytest.mark.browser
PAGES = ["wall", "events", "map", "health", "sensors", "incidents", "incident-stats"]
ADMIN_PAGES = ["sharing", "users", "audit", "pending-cameras", "sites"]


def _open(ui: UiPage, page_name: str) -> None:
    ui.page.goto(f"{ui.city.url}#/{page_name}")
    ui.page.wait_for_selector(f"#page[data-page='{page_name}'] > .page-body > *")
    ui.page.wait_for_load_state("networkidle")


def _both_languages(ui: UiPage, pages: list[str]) -> None:
    """Each page in English, then in Chinese with no catalogue English left; screenshots of
    both (test-artifacts/ui/<test>-<lang>-<page>.png)."""
    page, english = ui.page, catalogue_english()
    for name in pages:  # English first, for the record
        _open(ui, name)
        ui.shot(f"en-{name}")
    ui.use_chinese()
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    for name in pages:
        _open(ui, name)
        ui.shot(f"zh-{name}")
        shown = page.evaluate(VISIBLE_TEXT)
        left = sorted({s for s in shown if s in english})
        assert not left, f"{name}: English left on the Chinese page: {left}"
        assert any(re.search(r"[\u4e00-\u9fff]", s) for s in shown), name


def test_every_page_speaks_chinese_when_chosen(ui_page: UiPage) -> None:
    ui, page = ui_page, ui_page.page
    ui.login("police-operator")
    _both_languages(ui, PAGES)
    # Event kinds are translated (the source's name stays in the cell's title).
    zh = load_catalogue()["zh-CN"]
    _open(ui, "events")
    page.wait_for_selector("#events-table td.kind")
    cells = page.eval_on_selector_all("#events-table td.kind",
                                      "els => els.map(e => [e.dataset.kind, e.innerText, e.title])")
    known = [c for c in cells if f"kind.{c[0]}" in zh]
    assert known, cells
    for kind, text, title in known:
        assert text == zh[f"kind.{kind}"] and title == kind, (kind, text, title)
    assert not ui.errors, ui.errors


def test_admin_pages_in_both_languages(ui_page: UiPage) -> None:
    ui = ui_page
    ui.login("police-admin")
    _both_languages(ui, ADMIN_PAGES)
    assert not ui.errors, ui.errors
