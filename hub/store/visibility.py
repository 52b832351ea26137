"""What a caller may see, compiled into SQL.

The API computes the caller's scopes (what its department owns plus what was
granted to it) and passes them to every query. A row is visible when it
matches ANY scope; within a scope each field that is not None must match.
An empty visibility sees nothing; ``everything()`` is for the hub itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from psycopg import sql

Names = frozenset[str] | None

#: Scope fields -> events columns.
EVENT_COLUMNS = {
    "departments": "department_id",
    "sites": "site_id",
    "cameras": "camera_id",
    "source_systems": "source_system",
    "kinds": "kind",
    "events": "id",  #: single events (an incident's attachments)
}
#: Scope fields -> sensors columns (readings are joined to their sensor).
SENSOR_COLUMNS = {"departments": "department_id", "sites": "site_id", "sensors": "id"}


def _names(values: Iterable[str] | None) -> Names:
    return None if values is None else frozenset(values)


@dataclass(frozen=True)
class Scope:
    """One grant (or ownership): every field that is set restricts; None means any."""

    departments: Names = None
    sites: Names = None
    cameras: Names = None
    sensors: Names = None
    source_systems: Names = None
    kinds: Names = None
    events: Names = None  #: event ids (uuid text)

    @classmethod
    def of(cls, **fields: Iterable[str] | None) -> Scope:
        return cls(**{k: _names(v) for k, v in fields.items()})

    def fields(self) -> dict[str, frozenset[str]]:
        return {k: v for k, v in vars(self).items() if v is not None}

    def covers_readings(self) -> bool:
        """Readings are 'sensor' source rows without camera or kind: a scope limited to
        cameras or kinds, or to source systems other than 'sensor', grants none of them."""
        if self.cameras is not None or self.kinds is not None:
            return False
        return self.source_systems is None or "sensor" in self.source_systems


@dataclass(frozen=True)
class Visibility:
    """None scopes: everything visible. Otherwise the union of the scopes."""

    scopes: tuple[Scope, ...] | None

    @classmethod
    def everything(cls) -> Visibility:
        return cls(None)

    @classmethod
    def nothing(cls) -> Visibility:
        return cls(())

    @classmethod
    def of(cls, *scopes: Scope) -> Visibility:
        return cls(tuple(scopes))

    def uses(self, field: str) -> bool:
        """Whether any scope restricts on ``field`` (rollups lack cameras, for instance)."""
        return self.scopes is not None and any(getattr(s, field) is not None for s in self.scopes)

    def events_predicate(self, alias: str | None = None) -> tuple[sql.Composable, list[Any]]:
        """SQL and parameters restricting rows of ``events`` (or a rollup) to what is visible."""
        return self._predicate(self.scopes, EVENT_COLUMNS, alias)

    def sensors_predicate(self, alias: str | None = None) -> tuple[sql.Composable, list[Any]]:
        """SQL and parameters restricting ``sensors`` to those whose readings are visible."""
        scopes = (
            None if self.scopes is None else tuple(s for s in self.scopes if s.covers_readings())
        )
        return self._predicate(scopes, SENSOR_COLUMNS, alias)

    @staticmethod
    def _predicate(
        scopes: tuple[Scope, ...] | None, columns: dict[str, str], alias: str | None
    ) -> tuple[sql.Composable, list[Any]]:
        if scopes is None:
            return sql.SQL("TRUE"), []
        ors: list[sql.Composable] = []
        params: list[Any] = []
        for scope in scopes:
            ands: list[sql.Composable] = []
            impossible = False
            for name, values in scope.fields().items():
                column = columns.get(name)
                if column is None:  # e.g. a sensors restriction asked of events
                    impossible = True
                    break
                ident = sql.Identifier(alias, column) if alias else sql.Identifier(column)
                cast = sql.SQL("::text") if column == "id" else sql.SQL("")  # uuid ids
                ands.append(sql.SQL("{}{} = ANY(%s)").format(ident, cast))
                params.append(sorted(values))
            if impossible:
                params = params[: len(params) - len(ands)]
                continue
            ors.append(
                sql.SQL("(")
                + (sql.SQL(" AND ").join(ands) if ands else sql.SQL("TRUE"))
                + sql.SQL(")")
            )
        if not ors:
            return sql.SQL("FALSE"), []
        return sql.SQL("(") + sql.SQL(" OR ").join(ors) + sql.SQL(")"), params
