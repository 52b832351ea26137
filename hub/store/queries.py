"""Read side of the store: events, counts, reading series, latest readings.

Every function takes the caller's ``Visibility`` and applies it in SQL. Only
parameters and ``psycopg.sql`` identifiers reach the database. Counts read the
per-minute/hour rollups (continuous aggregates on TimescaleDB, writer-kept
tables otherwise) when the filters only touch their columns, and the raw
events with ``date_bin`` otherwise; both give the same numbers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from adapters.model import Event
from hub.store.filters import (
    BUCKETS,
    ORIGIN,
    CountQuery,
    Cursor,
    EventFilter,
    EventQuery,
    SeriesQuery,
    align,
)
from hub.store.visibility import Visibility

Conn = psycopg.AsyncConnection[Any]

#: Filter fields -> events columns.
_COLUMNS = {
    "kinds": "kind",
    "source_systems": "source_system",
    "sites": "site_id",
    "cameras": "camera_id",
    "departments": "department_id",
}
_GROUP_COLUMNS = {
    "kind": "kind",
    "site": "site_id",
    "source_system": "source_system",
    "department": "department_id",
}
#: Attributes with their own index (``events_plate_time``).
_INDEXED_ATTRIBUTES = {"plate"}


class NotFound(LookupError):
    """Unknown, or not visible to the caller (the two are not told apart)."""


class StoredEvent(Event):
    received_at: datetime


@dataclass
class EventPage:
    items: list[StoredEvent]
    next_cursor: str | None


@dataclass
class BucketCount:
    bucket: datetime
    key: str | None
    n: int


@dataclass
class SeriesPoint:
    time: datetime
    n: int
    avg: float
    min: float
    max: float


@dataclass
class LatestReading:
    sensor: str
    metric: str
    unit: str | None
    site: str
    department: str
    time: datetime
    value: float | None  #: None when the newest reading is a boolean, string, data or sum
    quality: int


def _where(
    f: EventFilter,
    vis: Visibility,
    alias: str | None,
    time_col: str,
    start: datetime,
    end: datetime,
) -> tuple[sql.Composable, list[Any]]:
    def col(name: str) -> sql.Identifier:
        return sql.Identifier(alias, name) if alias else sql.Identifier(name)

    parts: list[sql.Composable] = [
        sql.SQL("{} >= %s AND {} < %s").format(col(time_col), col(time_col))
    ]
    params: list[Any] = [start, end]
    for field, column in _COLUMNS.items():
        values = getattr(f, field)
        if values is not None:
            parts.append(sql.SQL("{} = ANY(%s)").format(col(column)))
            params.append([str(v) for v in values])
    if f.min_severity is not None:
        parts.append(sql.SQL("{} >= %s").format(col("severity")))
        params.append(int(f.min_severity))
    if f.bbox is not None:
        parts.append(
            sql.SQL("{} BETWEEN %s AND %s AND {} BETWEEN %s AND %s").format(col("lat"), col("lon"))
        )
        params += [f.bbox.min_lat, f.bbox.max_lat, f.bbox.min_lon, f.bbox.max_lon]
    if f.attributes is not None:
        parts.append(sql.SQL("{} @> %s::jsonb").format(col("attributes")))
        params.append(json.dumps(f.attributes))
        for key in _INDEXED_ATTRIBUTES & f.attributes.keys():
            if isinstance(f.attributes[key], str):  # lets the planner use the attribute's index
                parts.append(
                    sql.SQL("{} ? %s AND ({} ->> %s) = %s").format(
                        col("attributes"), col("attributes")
                    )
                )
                params += [key, key, f.attributes[key]]
    vis_sql, vis_params = vis.events_predicate(alias)
    parts.append(vis_sql)
    params += vis_params
    return sql.SQL(" AND ").join(parts), params


_EVENT_COLUMNS = sql.SQL(
    "e.id, e.occurred_at, e.received_at, e.source_system, e.kind, e.severity, e.department_id, "
    "e.site_id, e.camera_id, e.device_id, e.lat, e.lon, e.attributes, e.media, "
    "w.station, w.lane, w.plate, w.gross_kg, w.axle_count, w.axle_weights_kg, w.speed_kmh, "
    "w.calibration_id, w.limit_kg, w.overweight, w.excess_ratio"
)
_WIM_FIELDS = (
    "station",
    "lane",
    "plate",
    "gross_kg",
    "axle_count",
    "axle_weights_kg",
    "speed_kmh",
    "calibration_id",
    "limit_kg",
    "overweight",
    "excess_ratio",
)


def _stored_event(r: dict[str, Any]) -> StoredEvent:
    return StoredEvent.model_validate(
        {
            "id": r["id"],
            "occurred_at": r["occurred_at"],
            "received_at": r["received_at"],
            "source_system": r["source_system"],
            "kind": r["kind"],
            "severity": r["severity"],
            "department": r["department_id"],
            "site": r["site_id"],
            "camera": r["camera_id"],
            "device": r["device_id"],
            "location": None if r["lat"] is None else {"lat": r["lat"], "lon": r["lon"]},
            "attributes": r["attributes"],
            "media": r["media"],
            "wim": None if r["station"] is None else {k: r[k] for k in _WIM_FIELDS},
        }
    )


#: Newest-first pages probe these windows back from the end of the range in turn, so a
#: page of recent events plans and touches a day of partitions/chunks, not months.
_PROBE_WINDOWS = (timedelta(days=1), timedelta(days=7), timedelta(days=31))


async def query_events(conn: Conn, q: EventQuery, vis: Visibility) -> EventPage:
    """Events newest first, a page at a time (keyset on occurred_at, id)."""
    cursor = Cursor.decode(q.cursor) if q.cursor else None
    hi = min(q.end, cursor.occurred_at + timedelta(microseconds=1)) if cursor else q.end
    rows: list[dict[str, Any]] = []
    for span in (*_PROBE_WINDOWS, None):
        if hi <= q.start:
            break
        lo = q.start if span is None else max(q.start, hi - span)
        where, params = _where(q, vis, "e", "occurred_at", lo, hi)
        if cursor:
            where = where + sql.SQL(" AND (e.occurred_at, e.id) < (%s, %s)")
            params += [cursor.occurred_at, cursor.id]
        query = sql.SQL(
            "SELECT {cols} FROM events e LEFT JOIN wim_records w ON w.event_id = e.id "
            "WHERE {where} ORDER BY e.occurred_at DESC, e.id DESC LIMIT %s"
        ).format(cols=_EVENT_COLUMNS, where=where)
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(query, [*params, q.limit + 1 - len(rows)])
            rows += await cur.fetchall()
        if len(rows) > q.limit:
            break
        hi = lo
    items = [_stored_event(r) for r in rows[: q.limit]]
    more = len(rows) > q.limit
    next_cursor = (
        Cursor(occurred_at=items[-1].occurred_at, id=items[-1].id).encode() if more else None
    )
    return EventPage(items=items, next_cursor=next_cursor)


def _rollup_fits(q: CountQuery, vis: Visibility) -> bool:
    """Whether the rollups carry every column this count filters or groups on."""
    return (
        q.cameras is None
        and q.min_severity is None
        and q.bbox is None
        and q.attributes is None
        and not vis.uses("cameras")
        and not vis.uses("events")  # single shared events: rollups have no event ids
    )


_PENDING = sql.SQL(
    "WITH pending AS (SELECT lower(r) AS lo, upper(r) AS hi FROM unnest(("
    "SELECT range_agg(tstzrange(lo, hi)) FROM rollup_invalidations WHERE hi > %s AND lo < %s)) AS "
    "r) "
)


def _rollup_table(q: CountQuery, vis: Visibility) -> str:
    if q.bucket == "minute":
        return "event_counts_minute"
    if q.sites is None and q.group_by != "site" and not vis.uses("sites"):
        return "event_counts_hour_citywide"  # no site column: far fewer rows
    return "event_counts_hour"


async def count_events(conn: Conn, q: CountQuery, vis: Visibility) -> list[BucketCount]:
    """Events per bucket (and per ``group_by`` value), over the range widened to whole buckets."""
    start, end = q.aligned()
    width = BUCKETS[q.bucket]
    group = sql.Identifier(_GROUP_COLUMNS[q.group_by]) if q.group_by else sql.SQL("NULL::text")
    head = "SELECT date_bin(%s::interval, {t}, %s::timestamptz) AS b, {g} AS key, "
    if not _rollup_fits(q, vis):
        where, params = _where(q, vis, None, "occurred_at", start, end)
        query = sql.SQL(head + "count(*) FROM events WHERE {w} GROUP BY 1, 2 ORDER BY 1, 2").format(
            t=sql.Identifier("occurred_at"), g=group, w=where
        )
        args = [width, ORIGIN, *params]
    else:
        table = sql.Identifier(_rollup_table(q, vis))
        where_r, params_r = _where(q, vis, None, "bucket", start, end)
        rollup = sql.SQL(head + "n FROM {table} WHERE {w}").format(
            t=sql.Identifier("bucket"), g=group, table=table, w=where_r
        )
        args = [width, ORIGIN, *params_r]
        if await _continuous_aggregates(conn):  # TimescaleDB tracks late rows itself
            query = sql.SQL(
                "SELECT b, key, sum(n)::bigint FROM ({}) x GROUP BY 1, 2 ORDER BY 1, 2"
            ).format(rollup)
        else:  # hours logged since the last refresh are counted from the raw rows
            where_e, params_e = _where(q, vis, None, "occurred_at", start, end)
            raw = sql.SQL(
                head + "1 AS n FROM pending p JOIN LATERAL (SELECT * FROM events "
                "WHERE occurred_at >= p.lo AND occurred_at < p.hi AND {w}) e ON true"
            ).format(t=sql.Identifier("occurred_at"), g=group, w=where_e)
            query = _PENDING + sql.SQL(
                "SELECT b, key, sum(n)::bigint FROM ({rollup} AND NOT EXISTS (SELECT 1 FROM "
                "pending p "
                "WHERE bucket >= p.lo AND bucket < p.hi) UNION ALL {raw}) x GROUP BY 1, 2 ORDER "
                "BY 1, 2"
            ).format(rollup=rollup, raw=raw)
            args = [start, end, *args, width, ORIGIN, *params_e]
    cur = await conn.execute(query, args)
    return [BucketCount(bucket=b, key=k, n=int(n)) for b, k, n in await cur.fetchall()]


async def _series_keys(conn: Conn, q: SeriesQuery, vis: Visibility) -> tuple[int, int]:
    vis_sql, vis_params = vis.sensors_predicate("s")
    cur = await conn.execute(
        sql.SQL(
            "SELECT s.key, m.key FROM sensors s, metrics m WHERE s.id = %s AND m.name = %s AND {}"
        ).format(vis_sql),
        [q.sensor, q.metric, *vis_params],
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"no sensor {q.sensor!r} with metric {q.metric!r}")
    return int(row[0]), int(row[1])


async def _continuous_aggregates(conn: Conn) -> bool:
    cur = await conn.execute("SELECT continuous_aggregates FROM store_info")
    row = await cur.fetchone()
    return bool(row and row[0])


async def reading_series(conn: Conn, q: SeriesQuery, vis: Visibility) -> list[SeriesPoint]:
    """One sensor's metric over time: raw points (n=1) or per-bucket count/avg/min/max."""
    sensor_key, metric_key = await _series_keys(conn, q, vis)
    if q.bucket == "raw":
        cur = await conn.execute(
            "SELECT time, 1, value, value, value FROM readings WHERE sensor_key = %s "
            "AND metric_key = %s AND value IS NOT NULL AND time >= %s AND time < %s "
            "ORDER BY time LIMIT %s",
            (sensor_key, metric_key, q.start, q.end, q.limit),
        )
    else:
        width = BUCKETS[q.bucket]
        start, end = align(q.start, q.end, width)
        if await _continuous_aggregates(conn):
            table = "reading_stats_minute" if q.bucket == "minute" else "reading_stats_hour"
            # n counts numbers only (0008_reading_values): buckets of booleans, strings or
            # sums alone have n = 0 and are left out.
            stats = sql.SQL("sum(n)::bigint, sum(avg * n) / sum(n), min(min), max(max)")
            time_col, having = "bucket", sql.SQL("sum(n) > 0")
        else:
            table, time_col = "readings", "time"
            stats = sql.SQL("count(value), avg(value), min(value), max(value)")
            having = sql.SQL("count(value) > 0")
        query = sql.SQL(
            "SELECT date_bin(%s::interval, {t}, %s::timestamptz) AS b, {stats} FROM {table} "
            "WHERE sensor_key = %s AND metric_key = %s AND {t} >= %s AND {t} < %s "
            "GROUP BY 1 HAVING {having} ORDER BY 1 LIMIT %s"
        ).format(
            t=sql.Identifier(time_col), stats=stats, table=sql.Identifier(table), having=having
        )
        cur = await conn.execute(
            query, (width, ORIGIN, sensor_key, metric_key, start, end, q.limit)
        )
    return [
        SeriesPoint(time=t, n=int(n), avg=a, min=lo, max=hi)
        for t, n, a, lo, hi in await cur.fetchall()
    ]


async def latest_readings(
    conn: Conn, vis: Visibility, sensors: list[str] | None = None, sites: list[str] | None = None
) -> list[LatestReading]:
    """The newest value of every visible sensor and metric (optionally only some sensors/sites).

    ``latest_readings`` holds a hint per series that may lag while a writer holds newer
    ones (``hub/store/latest.py``); from the oldest time such a writer declared
    (``latest_pending``), a probe of ``readings`` after each hint makes the answer exact.
    That time is passed as a value, so only the chunks or partitions after it are planned.
    """
    cur = await conn.execute("SELECT min(since) FROM latest_pending")
    since = (await cur.fetchone() or (None,))[0]
    vis_sql, params = vis.sensors_predicate("s")
    extra: list[sql.Composable] = []
    if sensors is not None:
        extra.append(sql.SQL(" AND s.id = ANY(%s)"))
        params.append(sensors)
    if sites is not None:
        extra.append(sql.SQL(" AND s.site_id = ANY(%s)"))
        params.append(sites)
    columns = sql.SQL("l.time, l.value, l.quality")
    probe = sql.SQL("")
    if since is not None:
        columns = sql.SQL(
            "coalesce(n.time, l.time), coalesce(n.value, l.value), coalesce(n.quality, l.quality)"
        )
        probe = sql.SQL(
            "LEFT JOIN LATERAL (SELECT r.time, r.value, r.quality FROM readings r "
            "WHERE r.sensor_key = l.sensor_key AND r.metric_key = l.metric_key "
            "AND r.time >= %s AND r.time > l.time ORDER BY r.time DESC LIMIT 1) n ON true "
        )
        params.insert(0, since)
    query = sql.SQL(
        "SELECT s.id, m.name, m.unit, s.site_id, s.department_id, {} "
        "FROM latest_readings l JOIN sensors s ON s.key = l.sensor_key "
        "JOIN metrics m ON m.key = l.metric_key {}WHERE {}{} ORDER BY s.id, m.name"
    ).format(columns, probe, vis_sql, sql.SQL("").join(extra))
    cur = await conn.execute(query, params)
    return [LatestReading(*r) for r in await cur.fetchall()]
