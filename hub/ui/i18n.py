"""The UI's translations: one catalogue per area in ``static/i18n/<area>.json``.

Each file is ``{"en": {key: text}, "zh-CN": {key: text}}`` with keys prefixed by the
area (``core.wall.grid``, ``incidents.state.new``). The hub serves them merged at
``/ui/i18n.json``; ``static/js/i18n.js`` looks keys up. A key missing from a language,
or a key used twice across areas, is an error here (and in tests), never a blank.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

CATALOGUES = Path(__file__).parent / "static" / "i18n"
LANGUAGES = ("en", "zh-CN")


class CatalogueError(ValueError):
    """An area file that is not a complete two-language catalogue."""


def load_catalogue(folder: Path = CATALOGUES) -> dict[str, dict[str, str]]:
    """Every area merged per language; raises CatalogueError on a gap or a clash."""
    merged: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
    for path in sorted(folder.glob("*.json")):
        area = json.loads(path.read_text(encoding="utf-8"))
        if set(area) != set(LANGUAGES):
            raise CatalogueError(f"{path.name}: languages {sorted(area)}, want {list(LANGUAGES)}")
        keys = set(area["en"])
        for lang in LANGUAGES:
            if set(area[lang]) != keys:
                gap = sorted(keys ^ set(area[lang]))[:5]
                raise CatalogueError(f"{path.name}: {lang} differs from en in {gap}")
            blank = [k for k, v in area[lang].items() if not str(v).strip()]
            if blank:
                raise CatalogueError(f"{path.name}: empty {lang} text for {blank[:5]}")
            clash = keys & set(merged[lang])
            if clash:
                raise CatalogueError(f"{path.name}: keys defined elsewhere: {sorted(clash)[:5]}")
            merged[lang].update(area[lang])
    return merged


@cache
def catalogue_json() -> bytes:
    """The merged catalogue as served (read once per process)."""
    return json.dumps(load_catalogue(), ensure_ascii=False).encode("utf-8")
