"""Time limits and escalation, pure: what is pending, what is breached, when to look next.

The limits are counted from filing (a reopened incident's time to resolve from reopening).
Only the first unmet limit escalates, level by level (``incidents.escalation``); meeting it
ends that escalation and the next limit takes over.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hub.incidents.settings import EscalationStep, IncidentsConfig
from hub.incidents.states import OPEN

LIMITS = ("acknowledge", "dispatch", "resolve")
DONE_AT = {"acknowledge": "acknowledged_at", "dispatch": "dispatched_at", "resolve": "resolved_at"}


def due_times(config: IncidentsConfig, kind: str, priority: int, start: datetime) -> dict[str, Any]:
    lim = config.limit_for(kind, priority)
    return {
        "acknowledge_due": start + timedelta(seconds=lim.acknowledge_s),
        "dispatch_due": start + timedelta(seconds=lim.dispatch_s),
        "resolve_due": start + timedelta(seconds=lim.resolve_s),
    }


def pending(row: dict[str, Any]) -> tuple[str, datetime] | None:
    """The first limit still to meet, with its due time (None when nothing is pending)."""
    if row["state"] not in OPEN:
        return None
    for name in LIMITS:
        if row.get(DONE_AT[name]) is None and row.get(f"{name}_due") is not None:
            return name, row[f"{name}_due"]
    return None


@dataclass
class Plan:
    limit: str | None
    level: int  #: escalation level reached now for ``limit``
    raise_levels: list[int] = field(default_factory=list)  #: levels to raise now (1-based)
    next_due_at: datetime | None = None
    breached: bool = False


def plan(row: dict[str, Any], steps: Sequence[EscalationStep], now: datetime) -> Plan:
    """What the escalation task must do for ``row`` at ``now``."""
    p = pending(row)
    if p is None:
        return Plan(None, 0)
    limit, due = p
    done = row.get("escalation_level", 0) if row.get("escalation_for") == limit else 0
    times = [due + timedelta(seconds=s.after_s) for s in steps]
    reached = sum(1 for t in times if t <= now)
    level = max(done, reached)
    nxt = times[level] if level < len(times) else None
    return Plan(limit, level, list(range(done + 1, reached + 1)), nxt, now >= due)
