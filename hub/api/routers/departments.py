"""The city's departments (names are not secret: grants are made between them)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from psycopg.rows import dict_row
from pydantic import BaseModel

from hub.auth.access import Caller, require

router = APIRouter(prefix="/departments", tags=["departments"])


class DepartmentOut(BaseModel):
    id: str
    name: str


@router.get("", response_model=list[DepartmentOut], summary="All departments")
def list_departments(caller: Caller = require()) -> list[dict[str, Any]]:
    with caller.db.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT id, name FROM departments ORDER BY id").fetchall()
