"""The control room in Chinese: every visible string of every page comes from the Chinese
catalogue, and each page is kept as a screenshot in both languages (test-artifacts/ui/)."""

from __future__ import annotations

import re

import pytest

from devkit.fixtures.browser import VISIBLE_TEXT, UiPage
from hub.ui.i18n import load_catalogue

pytestmark = pytest.mark.browser
PAGES = ["wall", "events", "map", "health", "sensors", "incidents", "incident-stats"]


def _open(ui: UiPage, page_name: str) -> None:
    ui.page.goto(f"{ui.city.url}#/{page_name}")  # type: ignore[attr-defined]
    ui.page.wait_for_selector(f"#page[data-page='{page_name}'] > *")  # type: ignore[attr-defined]
    ui.page.wait_for_load_state("networkidle")  # type: ignore[attr-defined]


def test_every_page_speaks_chinese_when_chosen(ui_page: UiPage) -> None:
    ui, page = ui_page, ui_page.page
    cat = load_catalogue()
    english = {v for v in cat["en"].values() if re.search(r"[a-z]{3}", v)}
    english -= set(cat["zh-CN"].values())
    ui.login("police-operator")
    for name in PAGES:  # English first, for the record
        _open(ui, name)
        ui.shot(f"en-{name}")
    page.select_option("#language", "zh-CN")  # reloads the page in Chinese
    page.wait_for_function("document.documentElement.lang === 'zh-CN'")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    for name in PAGES:
        _open(ui, name)
        ui.shot(f"zh-{name}")
        shown = page.evaluate(VISIBLE_TEXT)
        left = sorted({s for s in shown if s in english})
        assert not left, f"{name}: English left on the Chinese page: {left}"
        assert any(re.search(r"[\u4e00-\u9fff]", s) for s in shown), name
    assert not ui.errors, ui.errors
