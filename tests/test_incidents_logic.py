"""Pure logic of incidents: the state machine, time limits and escalation plans, config."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.config import ConfigError
from hub.config import load_config
from hub.incidents import sla
from hub.incidents.settings import IncidentsConfig
from hub.incidents.states import TransitionError, allowed, target_of

T0 = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


def test_each_side_gets_only_its_actions() -> None:
    assert allowed("new", {"owner"}) == ["acknowledge", "dispatch", "cancel"]
    assert allowed("dispatched", {"assignee"}) == ["start", "hand_back", "resolve"]
    assert allowed("resolved", {"owner"}) == ["verify", "reopen", "cancel"]
    assert allowed("closed", {"assignee"}) == []
    assert target_of("dispatch", "in_progress", {"owner"}) == "in_progress"  # more assignees
    with pytest.raises(TransitionError) as e:
        target_of("close", "resolved", {"owner"})
    assert e.value.code == "incident_bad_state"
    with pytest.raises(TransitionError) as e:
        target_of("verify", "resolved", {"assignee"})
    assert e.value.code == "incident_not_your_side"


def test_most_specific_limit_applies() -> None:
    cfg = IncidentsConfig.model_validate({"limits": [
        {"kind": "*", "acknowledge_s": 300},
        {"kind": "fire", "acknowledge_s": 30},
        {"kind": "*", "priority": 1, "acknowledge_s": 60},
        {"kind": "fire", "priority": 1, "acknowledge_s": 10}]})
    assert cfg.limit_for("fire", 1).acknowledge_s == 10
    assert cfg.limit_for("fire", 2).acknowledge_s == 30
    assert cfg.limit_for("parking", 1).acknowledge_s == 60
    assert cfg.limit_for("parking", 3).acknowledge_s == 300


def test_config_needs_a_default_limit_and_rejects_unknown_keys() -> None:
    with pytest.raises(ConfigError):
        load_config(None, incidents={"limits": [{"kind": "fire"}]})
    with pytest.raises(ConfigError):
        load_config(None, incidents={"tick": 1})


def test_escalation_plan_level_by_level() -> None:
    cfg = IncidentsConfig.model_validate({"escalation": [{"after_s": 0}, {"after_s": 600}]})
    row = {"state": "new", "acknowledged_at": None, "dispatched_at": None, "resolved_at": None,
           **sla.due_times(cfg, "x", 2, T0), "escalation_for": None, "escalation_level": 0}
    due = row["acknowledge_due"]
    p = sla.plan(row, cfg.escalation, due - timedelta(seconds=1))
    assert (p.limit, p.raise_levels, p.next_due_at, p.breached) == ("acknowledge", [], due, False)
    p = sla.plan(row, cfg.escalation, due + timedelta(seconds=1))
    assert p.raise_levels == [1] and p.next_due_at == due + timedelta(seconds=600)
    row.update(escalation_for="acknowledge", escalation_level=1)
    p = sla.plan(row, cfg.escalation, due + timedelta(seconds=700))
    assert p.raise_levels == [2] and p.next_due_at is None
    row.update(acknowledged_at=due, state="acknowledged")
    p = sla.plan(row, cfg.escalation, due + timedelta(seconds=100))
    assert p.limit == "dispatch" and p.raise_levels == [] and p.level == 0
    row.update(state="closed")
    assert sla.plan(row, cfg.escalation, due).limit is None
