"""Rules: new events of chosen kinds, sites and severities become incidents of the rule's
department, dispatched at once where the rule says; a repeat of the same kind at the same
site within the rule's window joins the open incident instead.

A rule sees what its department sees (its own events and those granted to it): the same
visibility as the department's users.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from hub.auth import grant_store
from hub.auth.grants import Visibility
from hub.incidents import store
from hub.incidents.settings import IncidentsConfig
from hub.incidents.states import OPEN

EVENT_COLS = ("id, occurred_at, received_at, kind, severity, department_id, site_id, camera_id,"
              " source_system, lat, lon")


@dataclass(frozen=True)
class Rule:
    id: str
    department: str
    name: str
    event_kinds: frozenset[str]
    sites: frozenset[str] | None
    min_severity: int
    incident_kind: str
    priority: int
    dispatch_to: tuple[str, ...]
    merge_window_s: int

    @classmethod
    def of(cls, row: dict[str, Any]) -> Rule:
        return cls(str(row["id"]), row["department_id"], row["name"],
                   frozenset(row["event_kinds"]),
                   None if row["sites"] is None else frozenset(row["sites"]),
                   row["min_severity"], row["incident_kind"], row["priority"],
                   tuple(row["dispatch_to"]), row["merge_window_s"])

    def matches(self, ev: dict[str, Any], vis: Visibility) -> bool:
        return (ev["kind"] in self.event_kinds
                and (self.sites is None or ev["site_id"] in self.sites)
                and ev["severity"] >= self.min_severity
                and vis.sees_event(ev["department_id"], ev["site_id"], ev["camera_id"],
                                   ev["source_system"], ev["kind"], str(ev["id"])))


def merge_key(ev: dict[str, Any]) -> str:
    return f"{ev['kind']}@{ev['site_id']}"


def load(conn: psycopg.Connection[Any]) -> list[Rule]:
    with conn.cursor(row_factory=dict_row) as cur:
        return [Rule.of(r) for r in cur.execute(
            "SELECT * FROM incident_rules WHERE enabled ORDER BY created_at, id").fetchall()]


def apply(conn: psycopg.Connection[Any], config: IncidentsConfig, rules: list[Rule],
          events: list[dict[str, Any]]) -> int:
    """Turn matching ``events`` into incidents or merge them; the number of events attached."""
    if not rules or not events:
        return 0
    vis = {d: grant_store.visibility(conn, d) for d in {r.department for r in rules}}
    groups: dict[tuple[Rule, str], list[dict[str, Any]]] = {}
    for ev in events:
        for rule in rules:
            if rule.matches(ev, vis[rule.department]):
                groups.setdefault((rule, merge_key(ev)), []).append(ev)
    attached = 0
    with store.audit_batch(conn):
        for (rule, key), evs in groups.items():
            with conn.transaction():
                attached += _apply_group(conn, config, rule, key, evs)
    return attached


def _open_incident(conn: psycopg.Connection[Any], rule: Rule, key: str,
                   since: datetime) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            f"SELECT {store.COLS} FROM incidents WHERE department_id = %s AND merge_key = %s"
            " AND state = ANY(%s) AND last_event_at >= %s ORDER BY last_event_at DESC LIMIT 1"
            " FOR UPDATE", (rule.department, key, list(OPEN), since)).fetchone()


def _widens(conn: psycopg.Connection[Any], inc: dict[str, Any],
            evs: list[dict[str, Any]]) -> bool:
    """Whether ``evs`` bring a camera, site or kind the incident's grants do not cover yet."""
    new = {(e["site_id"], e["kind"], e.get("camera_id")) for e in evs}
    have = set(conn.execute(
        "SELECT DISTINCT site_id, kind, camera_id FROM incident_events WHERE incident_id = %s",
        (inc["id"],)).fetchall())
    return not new <= have


def _apply_group(conn: psycopg.Connection[Any], config: IncidentsConfig, rule: Rule, key: str,
                 evs: list[dict[str, Any]]) -> int:
    actor = store.Actor(f"rule:{rule.name}", rule.department)
    first = min(evs, key=lambda e: e["occurred_at"])
    inc = _open_incident(conn, rule, key, first["occurred_at"] - timedelta(
        seconds=rule.merge_window_s))
    if inc is not None:
        widens = _widens(conn, inc, evs)
        n = store.attach_events(conn, config, inc, evs, actor, rule.id)
        if n:
            store.timeline(conn, inc["id"], actor, f"{n} repeat event(s) merged", action="merge",
                           events=[str(e["id"]) for e in evs][:20])
            if widens:
                store.after_attach(conn, config, inc, actor)
        return n
    site = conn.execute("SELECT name, lat, lon FROM sites WHERE id = %s",
                        (first["site_id"],)).fetchone()
    title = f"{first['kind']} · {site[0] if site else first['site_id']}"
    inc = store.create(
        conn, config, actor, kind=rule.incident_kind, priority=rule.priority, title=title,
        source="rule", site_id=first["site_id"],
        lat=first["lat"] if first["lat"] is not None else (site[1] if site else None),
        lon=first["lon"] if first["lon"] is not None else (site[2] if site else None),
        rule_id=rule.id, merge_key=key)
    n = store.attach_events(conn, config, inc, evs, actor, rule.id)
    if rule.dispatch_to:
        inc = store.get(conn, inc["id"]) or inc
        store.transition(conn, config, inc["id"], "dispatch", actor,
                         assignees=[{"department": d} for d in rule.dispatch_to])
    return n
