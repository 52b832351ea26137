"""Incident statistics of what the department filed or was assigned, with CSV/Excel export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import AwareDatetime

from hub.api.routers.incidents import error
from hub.auth.access import Caller, require
from hub.auth.roles import Role
from hub.incidents import queries

router = APIRouter(prefix="/incident-stats", tags=["incident statistics"])
READ = (Role.analyst, Role.supervisor, Role.admin, Role.operator)
MAX_SPAN = timedelta(days=400)
TABLES = ("by_kind", "by_department", "by_assignee", "by_site", "by_state")


def _window(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    until = until or datetime.now(UTC)
    since = since or until - timedelta(days=30)
    if since >= until or until - since > MAX_SPAN:
        raise error("incident_stats_bad_window", "since must be before until, within 400 days",
                    422)
    return since, until


@router.get("", summary="Counts by kind, department and site; on-time share; times")
def stats(caller: Caller = require(*READ), since: AwareDatetime | None = None,
          until: AwareDatetime | None = None) -> dict[str, Any]:
    s, u = _window(since, until)
    caller.audit("incident_stats.query", since=s.isoformat(), until=u.isoformat())
    return {"since": s, "until": u, **queries.stats(caller.db, caller.department, s, u,
                                       caller.runtime.config.ingest.local_timezone)}


def rows(data: dict[str, Any]) -> list[list[Any]]:
    """The statistics flattened into (table, key, value) rows for export."""
    out: list[list[Any]] = [["table", "key", "value"]]
    for t in TABLES:
        out += [[t, r["key"], r["count"]] for r in data[t]]
    out += [["totals", k, v] for k, v in data["totals"].items()]
    out.append(["totals", "on_time_share", data["on_time_share"]])
    out += [["per_day", r["day"][:10], r["count"]] for r in data["per_day"]]
    return out


@router.get("/export", summary="The statistics as CSV or Excel (.xlsx)",
            response_class=Response,
            responses={200: {"content": {"text/csv": {}, "application/vnd.openxmlformats-"
                                         "officedocument.spreadsheetml.sheet": {}}}})
def export(caller: Caller = require(*READ), format: Literal["csv", "xlsx"] = "csv",
           since: AwareDatetime | None = None, until: AwareDatetime | None = None) -> Response:
    s, u = _window(since, until)
    table = rows(queries.stats(caller.db, caller.department, s, u,
                                       caller.runtime.config.ingest.local_timezone))
    caller.audit("incident_stats.export", format=format, since=s.isoformat(), until=u.isoformat())
    name = f"incidents-{caller.department}-{s:%Y%m%d}-{u:%Y%m%d}"
    if format == "csv":
        buf = io.StringIO()
        buf.write("\ufeff")  # Excel opens UTF-8 (Chinese names) correctly with a BOM
        csv.writer(buf).writerows(table)
        return Response(buf.getvalue().encode(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    from openpyxl import Workbook  # noqa: PLC0415 (with numpy, a tenth of the hub's start)

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "incidents"
    for r in table:
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    return Response(
        out.getvalue(),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})
