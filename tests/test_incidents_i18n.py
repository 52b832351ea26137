"""The incidents UI speaks Chinese and English: every key it uses exists in both."""

from __future__ import annotations

import json
import re
from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "hub" / "ui" / "static"
SCRIPTS = ["incidents.js", "incident_stats.js", "events.js", "app.js"]


def test_every_incidents_key_has_both_languages_and_exists() -> None:
    cat = json.loads((STATIC / "i18n" / "incidents.json").read_text(encoding="utf-8"))
    assert set(cat) == {"en", "zh-CN"}
    assert set(cat["en"]) == set(cat["zh-CN"])
    assert all(v.strip() for lang in cat.values() for v in lang.values())
    used = set()
    for name in SCRIPTS:
        used |= set(re.findall(r"""t\(["'](incidents\.[a-z_.]+)["']""",
                               (STATIC / "js" / name).read_text(encoding="utf-8")))
    assert used and not used - set(cat["en"]), sorted(used - set(cat["en"]))
    # Keys built at run time: every state, action and error code the API can answer.
    from hub.incidents.states import ACTIONS, STATES

    for state in STATES:
        assert f"incidents.state.{state}" in cat["en"]
    for action in ACTIONS:
        assert f"incidents.action.{action}" in cat["en"]
    for code in ("incident_version_conflict", "incident_bad_state", "incident_not_your_side",
                 "incident_reason_required", "photo_bad_type", "photo_too_large", "photo_empty",
                 "incident_no_assignees", "incident_not_found", "incident_site_not_found",
                 "incident_event_not_found", "incident_bad_span"):
        assert f"incidents.error.{code}" in cat["en"]
