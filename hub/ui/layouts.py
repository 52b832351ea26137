"""Video-wall layouts: ``/api/v1/layouts``, saved per user and shared per department.

A layout is a grid of ``columns`` x ``rows`` cells and its tiles, each a rectangle of
cells (``col``, ``row``, ``w``, ``h``: a custom grid is any set of non-overlapping
rectangles) holding one camera or none. Cameras are checked against the caller's
rights when saved and filtered again when read: a shared layout never reveals a
camera the reader may not watch (its tile comes back empty, ``hidden`` counts them).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Response, status
from psycopg import errors
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field, model_validator

from core.model import Ident
from hub.api.common import Strict, Text, conflict, not_found, unprocessable
from hub.auth.access import Caller, require
from hub.auth.roles import Role

router = APIRouter(prefix="/layouts", tags=["layouts"])
WALL_ROLES = (Role.operator, Role.admin, Role.analyst)


class Tile(Strict):
    col: int = Field(ge=0, le=7, description="Left cell (0-based).")
    row: int = Field(ge=0, le=7, description="Top cell (0-based).")
    w: int = Field(1, ge=1, le=8, description="Width in cells.")
    h: int = Field(1, ge=1, le=8, description="Height in cells.")
    camera: Ident | None = Field(None, description="Camera shown in the tile, or none.")


class LayoutIn(Strict):
    name: Text = Field(max_length=80)
    shared: bool = Field(False,
                         description="Visible to the whole department (read-only to others).")
    columns: int = Field(ge=1, le=8)
    rows: int = Field(ge=1, le=8)
    tiles: list[Tile] = Field(max_length=64)

    @model_validator(mode="after")
    def _fits(self) -> LayoutIn:
        _check_fit(self.columns, self.rows, self.tiles)
        return self


def _check_fit(columns: int, rows: int, tiles: list[Tile]) -> None:
    """Every tile inside the grid, none overlapping another."""
    taken: set[tuple[int, int]] = set()
    for t in tiles:
        if t.col + t.w > columns or t.row + t.h > rows:
            raise ValueError("a tile lies outside the grid")
        cells = {(t.col + i, t.row + j) for i in range(t.w) for j in range(t.h)}
        if cells & taken:
            raise ValueError("tiles overlap")
        taken |= cells


class LayoutOut(BaseModel):
    id: UUID
    name: str
    shared: bool
    owner: str
    mine: bool
    columns: int
    rows: int
    tiles: list[dict[str, Any]]
    hidden: int = Field(description="Tiles emptied because the caller may not watch their camera.")


def _out(caller: Caller, row: dict[str, Any]) -> dict[str, Any]:
    tiles, hidden = [], 0
    for t in row["tiles"]:
        cam = t.get("camera")
        if cam is not None and not _sees(caller, cam):
            cam, hidden = None, hidden + 1
        tiles.append({**t, "camera": cam})
    return {"id": row["id"], "name": row["name"], "shared": row["shared"],
            "owner": row["owner_name"], "mine": row["owner_id"] == caller.principal.id,
            "columns": row["columns"], "rows": row["rows"], "tiles": tiles, "hidden": hidden}


def _sees(caller: Caller, camera_id: str) -> bool:
    try:
        caller.camera_or_404(camera_id)
    except HTTPException:
        return False
    return True


def _check_cameras(caller: Caller, body: LayoutIn | LastWallIn) -> None:
    for t in body.tiles:
        if t.camera is not None and not _sees(caller, t.camera):
            raise unprocessable(f"no such camera: {t.camera}")


def _row(caller: Caller, layout_id: UUID) -> dict[str, Any]:
    with caller.db.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "SELECT * FROM wall_layouts WHERE id = %s AND department_id = %s"
            " AND (shared OR owner_id = %s)",
            (layout_id, caller.department, caller.principal.id)).fetchone()
    if row is None:
        raise not_found("layout")
    return row


def _may_change(caller: Caller, row: dict[str, Any]) -> None:
    if row["owner_id"] != caller.principal.id and not caller.principal.has(Role.admin):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only its owner or an admin may change it")


@router.get("", response_model=list[LayoutOut],
            summary="My layouts and my department's shared ones")
def list_layouts(caller: Caller = require(*WALL_ROLES)) -> list[dict[str, Any]]:
    with caller.db.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT * FROM wall_layouts WHERE department_id = %s AND (shared OR owner_id = %s)"
            " ORDER BY owner_id <> %s, name", (caller.department, caller.principal.id,
                                               caller.principal.id)).fetchall()
    return [_out(caller, r) for r in rows]


class LastWallIn(Strict):
    """The grid a user has on the wall now (unsaved changes too), and the saved layout it
    came from, if any."""

    layout_id: UUID | None = None
    columns: int = Field(ge=1, le=8)
    rows: int = Field(ge=1, le=8)
    tiles: list[Tile] = Field(max_length=64)

    @model_validator(mode="after")
    def _fits(self) -> LastWallIn:
        _check_fit(self.columns, self.rows, self.tiles)
        return self


class LastWallOut(BaseModel):
    layout_id: UUID | None
    columns: int
    rows: int
    tiles: list[dict[str, Any]]
    hidden: int


@router.get("/last", response_model=LastWallOut | None,
            summary="My wall as I left it (null: never saved)")
def last_wall(caller: Caller = require(*WALL_ROLES)) -> dict[str, Any] | None:
    with caller.db.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT * FROM wall_last WHERE department_id = %s AND owner_id = %s",
                          (caller.department, caller.principal.id)).fetchone()
    if row is None:
        return None
    out = _out(caller, {**row, "id": None, "name": "", "shared": False, "owner_name": ""})
    return {"layout_id": row["layout_id"], "columns": out["columns"], "rows": out["rows"],
            "tiles": out["tiles"], "hidden": out["hidden"]}


@router.put("/last", status_code=204, summary="Keep my wall as it is now (not audited: a "
            "preference, saved at every change)")
def keep_last_wall(body: LastWallIn, caller: Caller = require(*WALL_ROLES)) -> Response:
    _check_cameras(caller, body)
    layout = body.layout_id
    if layout is not None and caller.db.execute(
            "SELECT 1 FROM wall_layouts WHERE id = %s AND (shared OR owner_id = %s)",
            (layout, caller.principal.id)).fetchone() is None:
        layout = None  # gone or not the caller's to see: the grid is kept, unnamed
    caller.db.execute(
        "INSERT INTO wall_last (department_id, owner_id, layout_id, columns, rows, tiles)"
        " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (department_id, owner_id) DO UPDATE SET"
        " layout_id = excluded.layout_id, columns = excluded.columns, rows = excluded.rows,"
        " tiles = excluded.tiles, updated_at = now()",
        (caller.department, caller.principal.id, layout, body.columns, body.rows,
         Jsonb([t.model_dump() for t in body.tiles])))
    return Response(status_code=204)


@router.get("/{layout_id}", response_model=LayoutOut, summary="One layout")
def get_layout(layout_id: UUID, caller: Caller = require(*WALL_ROLES)) -> dict[str, Any]:
    return _out(caller, _row(caller, layout_id))


@router.post("", response_model=LayoutOut, status_code=201, summary="Save a new layout")
def create_layout(body: LayoutIn, caller: Caller = require(*WALL_ROLES)) -> dict[str, Any]:
    _check_cameras(caller, body)
    p = caller.principal
    try:
        with caller.db.transaction(), caller.db.cursor(row_factory=dict_row) as cur:
            row = cur.execute(
                "INSERT INTO wall_layouts (department_id, owner_id, owner_name, name, shared,"
                " columns, rows, tiles) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING *",
                (caller.department, p.id, p.name, body.name, body.shared, body.columns, body.rows,
                 Jsonb([t.model_dump() for t in body.tiles]))).fetchone()
    except errors.UniqueViolation:
        raise conflict("you already have a layout of that name") from None
    assert row is not None
    caller.audit("layout.create", target_type="layout", target_id=str(row["id"]),
                 shared=body.shared)
    return _out(caller, row)


@router.put("/{layout_id}", response_model=LayoutOut, summary="Replace a layout (owner or admin)")
def update_layout(layout_id: UUID, body: LayoutIn,
                  caller: Caller = require(*WALL_ROLES)) -> dict[str, Any]:
    _may_change(caller, _row(caller, layout_id))
    _check_cameras(caller, body)
    try:
        with caller.db.transaction(), caller.db.cursor(row_factory=dict_row) as cur:
            row = cur.execute(
                "UPDATE wall_layouts SET name = %s, shared = %s, columns = %s, rows = %s,"
                " tiles = %s, updated_at = now() WHERE id = %s RETURNING *",
                (body.name, body.shared, body.columns, body.rows,
                 Jsonb([t.model_dump() for t in body.tiles]), layout_id)).fetchone()
    except errors.UniqueViolation:
        raise conflict("you already have a layout of that name") from None
    assert row is not None
    caller.audit("layout.update", target_type="layout", target_id=str(layout_id),
                 shared=body.shared)
    return _out(caller, row)


@router.delete("/{layout_id}", status_code=204, summary="Delete a layout (owner or admin)")
def delete_layout(layout_id: UUID, caller: Caller = require(*WALL_ROLES)) -> Response:
    _may_change(caller, _row(caller, layout_id))
    caller.db.execute("DELETE FROM wall_layouts WHERE id = %s", (layout_id,))
    caller.audit("layout.delete", target_type="layout", target_id=str(layout_id))
    return Response(status_code=204)
