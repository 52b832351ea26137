"""One pattern for the registry routers (sites, cameras, sensors).

Reads show what the caller's visibility lets it see, and an id it may not see is answered
like an unknown one (``not_found``). Writes touch only the caller's department's own rows:
the department is part of every write's ``WHERE``, never checked apart. Each write is
audited as ``<noun>.<action>`` by the router once the whole change (secrets included) is
done. Conflicts carry stable codes (``<noun>_id_taken``, ``<noun>_in_use``) the UI translates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from psycopg import errors, sql
from psycopg.rows import dict_row

from hub.api.common import CodedError, LocationIn, not_found
from hub.auth.access import Caller


def lat_lon(loc: LocationIn | None) -> dict[str, float | None]:
    """A body's optional location as the ``lat``/``lon`` columns (None: unchanged/unset)."""
    if loc is None:
        return {"lat": None, "lon": None}
    return {"lat": loc.lat, "lon": loc.lon}


@dataclass(frozen=True)
class Registry:
    """A department-owned table seen through the caller's visibility."""

    table: str  #: e.g. "cameras"
    noun: str  #: e.g. "camera", for messages and audit actions
    columns: str  #: the SELECT list of a read
    scope: str  #: the visibility scope: "sites", "video", "readings"
    cols: Mapping[str, str]  #: visibility keys to this table's columns
    out: Callable[[dict[str, Any]], dict[str, Any]]  #: a row as the API shows it
    touch: str = ""  #: further assignments on every update, e.g. "updated_at = now()"
    in_use: str | None = None  #: the conflict answered when rows still refer to one

    def visible(self, caller: Caller, row_id: str | None = None) -> list[dict[str, Any]]:
        query = sql.SQL("SELECT {} FROM {} WHERE {}").format(
            sql.SQL(self.columns), sql.Identifier(self.table),
            caller.visibility.sql(self.scope, dict(self.cols)))
        params: tuple[Any, ...] = ()
        if row_id is not None:
            query += sql.SQL(" AND id = %s")
            params = (row_id,)
        with caller.db.cursor(row_factory=dict_row) as cur:
            return cur.execute(query + sql.SQL(" ORDER BY id"), params).fetchall()

    def listed(self, caller: Caller) -> list[dict[str, Any]]:
        return [self.out(r) for r in self.visible(caller)]

    def one(self, caller: Caller, row_id: str) -> dict[str, Any]:
        rows = self.visible(caller, row_id)
        if not rows:
            raise not_found(self.noun)
        return self.out(rows[0])

    def insert(self, caller: Caller, values: Mapping[str, Any]) -> None:
        """A new row of the caller's department; a taken id is a conflict."""
        row = {"department_id": caller.department, **values}
        query = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
            sql.Identifier(self.table), sql.SQL(", ").join(map(sql.Identifier, row)),
            sql.SQL(", ").join(sql.Placeholder() * len(row)))
        try:
            with caller.db.transaction():
                caller.db.execute(query, tuple(row.values()))
        except errors.UniqueViolation:
            raise CodedError(409, f"{self.noun} id taken", f"{self.noun}_id_taken") from None

    def update(self, caller: Caller, row_id: str, values: Mapping[str, Any]) -> None:
        """Set the values that are not None on one of the department's rows."""
        sets: list[sql.Composable] = [
            sql.SQL("{0} = coalesce(%s, {0})").format(sql.Identifier(c)) for c in values
        ]
        if self.touch:
            sets.append(sql.SQL(self.touch))
        query = sql.SQL("UPDATE {} SET {} WHERE id = %s AND department_id = %s RETURNING id")
        row = caller.db.execute(
            query.format(sql.Identifier(self.table), sql.SQL(", ").join(sets)),
            (*values.values(), row_id, caller.department),
        ).fetchone()
        if row is None:
            raise not_found(f"{self.noun} of this department")

    def delete(self, caller: Caller, row_id: str) -> None:
        """Remove one of the department's rows; refused while others still refer to it."""
        query = sql.SQL("DELETE FROM {} WHERE id = %s AND department_id = %s").format(
            sql.Identifier(self.table))
        try:
            with caller.db.transaction():
                done = caller.db.execute(query, (row_id, caller.department)).rowcount
        except errors.ForeignKeyViolation:
            raise CodedError(409, self.in_use or f"the {self.noun} is still in use",
                             f"{self.noun}_in_use") from None
        if not done:
            raise not_found(f"{self.noun} of this department")

    def audit(self, caller: Caller, action: str, row_id: str, **detail: Any) -> None:
        caller.audit(f"{self.noun}.{action}", target_type=self.noun, target_id=row_id, **detail)
