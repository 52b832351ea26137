"""Incident rules of a department: which events become incidents, and where they go."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from core.model import Ident
from hub.api.common import IdList, Strict, Text, unknown_id
from hub.api.routers.incidents import error
from hub.auth.access import Caller, require
from hub.auth.roles import Role

router = APIRouter(prefix="/incident-rules", tags=["incident rules"])
COLS = ("id, department_id, name, enabled, event_kinds, sites, min_severity, incident_kind,"
        " priority, dispatch_to, merge_window_s, created_by, created_at, updated_at")


class RuleIn(Strict):
    name: Text
    enabled: bool = True
    event_kinds: IdList = Field(min_length=1, description="Event kinds that open an incident.")
    sites: IdList | None = Field(None, description="Only at these sites (None: any).")
    min_severity: int = Field(0, ge=0, le=3, description="Lowest event severity that counts.")
    incident_kind: Ident = Field(description="Kind of the incident filed.")
    priority: int = Field(2, ge=1, le=4)
    dispatch_to: list[Ident] = Field(
        default_factory=list, max_length=10,
        description="Departments it is dispatched to at once (empty: waits for an operator).")
    merge_window_s: int = Field(
        600, ge=0, le=604800,
        description="A repeat (same event kind, same site) within this many seconds joins the "
        "open incident.")


class RuleOut(BaseModel):
    id: UUID
    department_id: str
    name: str
    enabled: bool
    event_kinds: list[str]
    sites: list[str] | None
    min_severity: int
    incident_kind: str
    priority: int
    dispatch_to: list[str]
    merge_window_s: int
    created_by: str
    created_at: datetime
    updated_at: datetime


def _check(caller: Caller, body: RuleIn) -> None:
    for d in body.dispatch_to:
        if caller.db.execute("SELECT 1 FROM departments WHERE id = %s", (d,)).fetchone() is None:
            raise error("incident_rule_bad_department", f"no such department: {d}", 422)


def _values(body: RuleIn) -> dict[str, Any]:
    v = body.model_dump()
    v["event_kinds"] = sorted(set(v["event_kinds"]))
    v["sites"] = None if v["sites"] is None else sorted(set(v["sites"]))
    v["dispatch_to"] = sorted(set(v["dispatch_to"]))
    return v


@router.get("", response_model=list[RuleOut], summary="The department's incident rules")
def list_rules(caller: Caller = require(Role.admin, Role.supervisor, Role.operator)) -> Any:
    with caller.db.cursor(row_factory=dict_row) as cur:
        return cur.execute(f"SELECT {COLS} FROM incident_rules WHERE department_id = %s"
                           " ORDER BY name, id", (caller.department,)).fetchall()


@router.post("", response_model=RuleOut, status_code=201, summary="Add a rule")
def create_rule(body: RuleIn, caller: Caller = require(Role.admin, Role.supervisor)) -> Any:
    _check(caller, body)
    with caller.db.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "INSERT INTO incident_rules (department_id, name, enabled, event_kinds, sites,"
            " min_severity, incident_kind, priority, dispatch_to, merge_window_s, created_by)"
            " VALUES (%(dept)s, %(name)s, %(enabled)s, %(event_kinds)s, %(sites)s,"
            " %(min_severity)s, %(incident_kind)s, %(priority)s, %(dispatch_to)s,"
            f" %(merge_window_s)s, %(by)s) RETURNING {COLS}",
            {**_values(body), "dept": caller.department, "by": caller.principal.actor}).fetchone()
    assert row is not None
    caller.audit("incident_rule.create", target_type="incident_rule", target_id=str(row["id"]),
                 **{k: v for k, v in _values(body).items()})
    return row


@router.put("/{rule_id}", response_model=RuleOut, summary="Change a rule")
def update_rule(rule_id: UUID, body: RuleIn,
                caller: Caller = require(Role.admin, Role.supervisor)) -> Any:
    _check(caller, body)
    with caller.db.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "UPDATE incident_rules SET name = %(name)s, enabled = %(enabled)s, event_kinds ="
            " %(event_kinds)s, sites = %(sites)s, min_severity = %(min_severity)s, incident_kind"
            " = %(incident_kind)s, priority = %(priority)s, dispatch_to = %(dispatch_to)s,"
            " merge_window_s = %(merge_window_s)s, updated_at = now() WHERE id = %(id)s AND"
            f" department_id = %(dept)s RETURNING {COLS}",
            {**_values(body), "dept": caller.department, "id": rule_id}).fetchone()
    if row is None:
        raise unknown_id("no such rule", 404, "incident_rule_not_found")
    caller.audit("incident_rule.update", target_type="incident_rule", target_id=str(rule_id),
                 **_values(body))
    return row


@router.delete("/{rule_id}", status_code=204, summary="Remove a rule")
def delete_rule(rule_id: UUID, caller: Caller = require(Role.admin, Role.supervisor)) -> None:
    cur = caller.db.execute("DELETE FROM incident_rules WHERE id = %s AND department_id = %s",
                            (rule_id, caller.department))
    if cur.rowcount == 0:
        raise unknown_id("no such rule", 404, "incident_rule_not_found")
    caller.audit("incident_rule.delete", target_type="incident_rule", target_id=str(rule_id))
