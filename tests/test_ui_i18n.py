"""Every UI string has a Chinese and an English text.

The catalogues (hub/ui/static/i18n/<area>.json) must be complete in both languages; every
key the pages use through t("...") or data-i18n must exist; and no page may put visible
English text into the DOM by hand (a literal string as a child of h(...)), since such text
would stay English for a Chinese operator.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from devkit.fixtures.hubapi import HubApi
from hub.ui.i18n import LANGUAGES, CatalogueError, load_catalogue

STATIC = Path(__file__).resolve().parent.parent / "hub" / "ui" / "static"
SCRIPTS = sorted((STATIC / "js").glob("*.js"))
#: t("key") and t(`key`) with a literal key; data-i18n="key" (and -title, -placeholder).
USED = re.compile(r"""\bt\(\s*["']([a-z][\w.-]+)["']""")
ATTR = re.compile(r"""data-i18n(?:-title|-placeholder)?=["']([a-z][\w.-]+)["']""")
#: A literal word as a child of h(): h("button", {...}, "Save") or h("h2", "Cameras").
LITERAL_CHILD = re.compile(
    r"""\bh\("[\w.#-]+",(?:\s*\{[^{}]*\},)?\s*"([A-Za-z][^"]*[a-z][^"]*)"\s*[,)]"""
)


def test_catalogues_are_complete_in_both_languages() -> None:
    cat = load_catalogue()
    assert set(cat) == set(LANGUAGES)
    assert cat["en"].keys() == cat["zh-CN"].keys()
    assert len(cat["en"]) > 100
    # Chinese texts are Chinese (a copied English string is a missing translation).
    untranslated = [k for k, v in cat["zh-CN"].items()
                    if not re.search(r"[\u4e00-\u9fff]", v) and v == cat["en"][k] and len(v) > 3]
    assert not untranslated, untranslated


def test_a_gap_in_one_language_is_refused(tmp_path: Path) -> None:
    (tmp_path / "area.json").write_text(json.dumps({"en": {"a.b": "x", "a.c": "y"},
                                                    "zh-CN": {"a.b": "甲"}}), encoding="utf-8")
    with pytest.raises(CatalogueError, match="differs from en"):
        load_catalogue(tmp_path)


def test_every_key_the_pages_use_exists() -> None:
    cat = load_catalogue()["en"]
    used: set[str] = set()
    for path in [*SCRIPTS, STATIC / "index.html"]:
        text = path.read_text(encoding="utf-8")
        used |= set(USED.findall(text)) | set(ATTR.findall(text))
    assert len(used) > 80
    missing = sorted(k for k in used if k not in cat)
    assert not missing, missing


def test_no_page_writes_english_by_hand() -> None:
    found = []
    for path in SCRIPTS:
        for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            found += [f"{path.name}:{line_no}: {m}" for m in LITERAL_CHILD.findall(line)]
    assert not found, found


def test_the_hub_serves_the_merged_catalogue_and_coded_errors(hub_api: HubApi) -> None:
    answer = hub_api.client.get("/ui/i18n.json")
    assert answer.status_code == 200
    body = answer.json()
    assert body["zh-CN"]["core.nav.wall"] == "视频墙"
    assert body["en"]["incidents.nav"]
    config = hub_api.client.get("/ui/config.json").json()
    assert config["time_zone"] == "Asia/Shanghai"
    # Error answers carry a stable code the UI translates (error.<code>).
    police = hub_api.headers("police")
    missing = hub_api.client.get("/api/v1/cameras/no-such-camera", headers=police)
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    assert f"error.{missing.json()['code']}" in body["en"]
    anonymous = hub_api.client.get("/api/v1/cameras")
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "unauthorized"
