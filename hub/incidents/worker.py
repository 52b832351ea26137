"""The hub's incident worker: the rule listener and the escalation task, in one thread.

Several hub replicas may run it: each tries a session-level advisory lock and only the
holder works (the others retry every ``tick_s``); the escalation scan also takes its rows
``FOR UPDATE SKIP LOCKED``. It connects as the tables' owner (``database.url``), like
ingest, because it acts for every department; rules still apply their department's
visibility. New events wake it through the ``cityhub_events`` notification that ingest's
inserts already send; it reads events by ``received_at`` from a durable cursor, looking
``rule_overlap_s`` back for transactions that committed late, and remembers what it saw.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from core.periodic import FailureStreak
from hub.incidents import escalation, rules
from hub.incidents.settings import IncidentsConfig
from hub.store.scalar import clock

log = logging.getLogger(__name__)
LOCK_KEY = 0x63697479_696E6364  # "cityincd"
MIN_PASS_S = 0.1
BATCH = 20000
RETRY_S = 1.0  #: a lost database is tried again this often


class IncidentWorker:
    def __init__(self, dsn: str, config: IncidentsConfig) -> None:
        self.dsn = dsn
        self.config = config
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen: dict[str, datetime] = {}
        self._cursor: datetime | None = None
        self.leading = False
        self.standby_checks = 0  #: lock attempts lost to another replica
        self._first = True
        self._failures = FailureStreak("incident worker")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="incident-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._lead()
            except Exception as exc:  # noqa: BLE001 - keep the hub up; retry
                # A database restart is an outage ridden out, not an error per retry.
                self._failures.failed(exc, RETRY_S)
                self._stop.wait(RETRY_S)

    def _lead(self) -> None:
        with (
            psycopg.connect(self.dsn, autocommit=True) as listen,
            psycopg.connect(self.dsn) as conn,
        ):
            self._failures.worked()
            while not self._stop.is_set():
                row = listen.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()
                if row and row[0]:
                    break
                self.standby_checks += 1
                self._stop.wait(self.config.tick_s)
            if self._stop.is_set():
                return
            self.leading = True
            listen.execute("LISTEN cityhub_events")
            self._load_cursor(conn)
            last_tick = 0.0
            while not self._stop.is_set():
                started = time.monotonic()
                self.rules_pass(conn)
                if started - last_tick >= self.config.tick_s:
                    escalation.run(conn, self.config)
                    last_tick = started
                for _ in listen.notifies(timeout=self.config.tick_s, stop_after=1):
                    pass
                rest = MIN_PASS_S - (time.monotonic() - started)
                if rest > 0:
                    self._stop.wait(rest)

    def _load_cursor(self, conn: psycopg.Connection[Any]) -> None:
        row = conn.execute("SELECT received_at FROM incident_rule_cursor").fetchone()
        if row is None:
            row = conn.execute("SELECT now()").fetchone()
        conn.commit()
        assert row is not None
        self._cursor = row[0]
        self._seen.clear()
        self._first = True

    def rules_pass(self, conn: psycopg.Connection[Any]) -> int:
        """Read events newer than the cursor, apply the rules, move the cursor; one transaction."""
        assert self._cursor is not None
        active = rules.load(conn)
        kinds = sorted({k for r in active for k in r.event_kinds})
        overlap = timedelta(seconds=self.config.rule_overlap_s)
        with conn.cursor(row_factory=dict_row) as cur:
            now = clock(cur.connection)
            events = cur.execute(
                f"SELECT {rules.EVENT_COLS} FROM events WHERE received_at > %s"
                " AND kind = ANY(%s) ORDER BY received_at LIMIT %s",
                (self._cursor - overlap, kinds, BATCH)).fetchall() if kinds else []
        fresh = [e for e in events if str(e["id"]) not in self._seen]
        if fresh and self._first:  # after a restart: skip what a previous run attached
            done = {r[0] for r in conn.execute(
                "SELECT event_id::text FROM incident_events WHERE event_id = ANY(%s)"
                " AND rule_id IS NOT NULL", ([e["id"] for e in fresh],)).fetchall()}
            fresh = [e for e in fresh if str(e["id"]) not in done]
        self._first = False
        attached = rules.apply(conn, self.config, active, fresh)
        for e in fresh:
            self._seen[str(e["id"])] = e["received_at"]
        cursor = events[-1]["received_at"] if len(events) == BATCH else now
        self._cursor = max(self._cursor, cursor)
        floor = self._cursor - overlap
        self._seen = {k: v for k, v in self._seen.items() if v > floor}
        conn.execute(
            "INSERT INTO incident_rule_cursor (received_at) VALUES (%s) ON CONFLICT (singleton)"
            " DO UPDATE SET received_at = excluded.received_at", (self._cursor,))
        conn.commit()
        return attached
