"""Dead letters replayed on a real PostgreSQL once their cause is mended (``cityhub ingest
replay``): what adapts now is stored under the ids it would have had and its letter goes;
what is refused again stays with its id and today's reason; a refused record of a pack is
kept as a message of its own, so it replays alone; a record the store refused (older than
its window) replays once the window is widened; a dry run and a second run store nothing."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from adapters.isapi import IsapiAdapter
from core.topics import events_topic, readings_topic
from devkit.fixtures.store import make_event, make_reading, run
from hub.ingest.pipeline import adapt_message
from hub.ingest.replay import Tally, replay
from hub.store.dead_letters import Selection
from hub.store.settings import StoreConfig
from hub.store.writer import BatchWriter, DeadLetter

ISAPI_TOPIC = "city/police/police-s0/safecity/native/isapi"
TZ = ZoneInfo("Asia/Shanghai")


def _isapi(name: str, minutes_ago: int) -> bytes:
    """A shipped ISAPI sample, dated a few minutes ago (inside the store's window)."""
    at = (datetime.now(TZ) - timedelta(minutes=minutes_ago)).replace(microsecond=0)
    return re.sub(rb"<dateTime>[^<]*", b"<dateTime>" + at.isoformat().encode(),
                  IsapiAdapter.samples()[name])


def _write(dsn: str, config: StoreConfig | None = None, **batch: Any) -> None:
    async def go() -> None:
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            await BatchWriter(config).write(conn, topic="ingest", **batch)

    run(go())


def _letters(dsn: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT id, topic, reason, payload FROM dead_letters ORDER BY id").fetchall()


def _count(dsn: str, sql: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def _replay(dsn: str, *args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "hub", "ingest", "replay", "--dsn", dsn, *args],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.splitlines()[-1]))


def test_letters_of_a_format_now_installed_are_stored_under_their_own_ids(store_dsn: str) -> None:
    """Letters kept while a format had no adapter (a deployment without it) replay through
    the one installed now; a letter still unreadable stays, with its id and today's reason."""
    payloads = [_isapi("motion.xml", 5), _isapi("intrusion.xml", 4)]
    broken = b"<EventNotificationAlert>\xff not xml"
    _write(store_dsn, dead_letters=[
        DeadLetter(ISAPI_TOPIC, "no adapter for format 'isapi'", p) for p in [*payloads, broken]])
    kept_id = _letters(store_dsn)[-1][0]

    dry = _replay(store_dsn, "--dry-run", "--topic-prefix", "city/police/")
    assert dry["dry_run"] and dry["selected"] == 3 and dry["replayed"] == 2
    assert dry["still_refused"] == 1 and dry["events_stored"] == 2
    assert _count(store_dsn, "SELECT count(*) FROM events") == 0  # a dry run stores nothing
    assert len(_letters(store_dsn)) == 3

    done = _replay(store_dsn, "--topic-prefix", "city/police/")
    assert (done["replayed"], done["still_refused"], done["events_stored"]) == (2, 1, 2)
    [(letter_id, topic, reason, payload)] = _letters(store_dsn)
    assert (letter_id, topic, bytes(payload)) == (kept_id, ISAPI_TOPIC, broken)
    assert "no adapter" not in reason and reason == done["top_reasons"][0]["reason"]
    with psycopg.connect(store_dsn) as conn:
        stored = {r[0] for r in conn.execute("SELECT id FROM events").fetchall()}
        audit = conn.execute("SELECT actor, detail FROM audit_log"
                             " WHERE action = 'dead_letters.replay' ORDER BY seq").fetchall()
    letter_time = datetime.now(UTC)  # ids of native records depend on their content only
    assert stored == {adapt_message(ISAPI_TOPIC, p, letter_time, TZ).events[0].id
                      for p in payloads}  # as ingest would have stored them
    assert [a[1]["dry_run"] for a in audit] == [True, False]
    assert all(a[0].startswith("cli:") for a in audit)
    assert audit[1][1]["selection"] == {"topic_prefix": "city/police/"}

    again = _replay(store_dsn)
    assert (again["selected"], again["replayed"], again["events_stored"]) == (1, 0, 0)


def test_a_refused_record_of_a_senml_pack_is_kept_as_a_pack_of_its_own() -> None:
    """Base name, time and unit in force are written into the record: alone it reads as it
    did in its pack (RFC 8428 4.6), and what refused it refuses it again."""
    pack = [{"bn": "urn:dev:ow:10e2073a01080063:", "bt": 1.8e9, "bu": "Cel", "n": "temp",
             "v": 21.5}, {"n": "hum", "v": "wet", "t": 5}]
    at = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
    out = adapt_message(readings_topic("citymgmt", "s1"), json.dumps(pack).encode(), at, TZ)
    assert len(out.readings) == 1 and len(out.letters) == 1
    alone = json.loads(out.letters[0].payload)
    assert alone == [{"bn": "urn:dev:ow:10e2073a01080063:", "bt": 1.8e9, "bu": "Cel",
                      "n": "hum", "v": "wet", "t": 5}]
    again = adapt_message(out.letters[0].topic, out.letters[0].payload, at, TZ)
    assert again.readings == [] and [x.reason for x in again.letters] == [out.letters[0].reason]


def test_a_refused_event_of_a_pack_is_kept_as_a_pack_of_its_own() -> None:
    topic = events_topic("traffic", "s1", "traffic")
    good = make_event().model_dump(mode="json")
    other = {**make_event().model_dump(mode="json"), "department": "police"}
    out = adapt_message(topic, json.dumps({"events": [good, other]}).encode(),
                        datetime.now(UTC), TZ)
    assert len(out.events) == 1 and len(out.letters) == 1
    assert json.loads(out.letters[0].payload) == {"events": [other]}
    again = adapt_message(topic, out.letters[0].payload, datetime.now(UTC), TZ)
    assert again.events == [] and again.letters[0].reason == out.letters[0].reason


def test_records_older_than_the_window_replay_once_it_is_widened(store_dsn: str) -> None:
    """An edge box back after days offline: its backlog is older than the store takes. The
    letters are messages on their own topics; widened, the store takes them, once."""
    narrow, wide = StoreConfig(max_backlog_days=1), StoreConfig(max_backlog_days=7)
    old = datetime.now(UTC) - timedelta(days=3)
    events = [make_event(old + timedelta(seconds=i)) for i in range(3)]
    readings = [make_reading(old + timedelta(seconds=i)) for i in range(4)]
    _write(store_dsn, narrow, events=events, readings=readings)
    letters = _letters(store_dsn)
    assert len(letters) == 7
    assert {x[1] for x in letters} == {events_topic("traffic", "s1", "traffic"),
                                       readings_topic("citymgmt", "s1")}

    async def go(config: StoreConfig, dry_run: bool = False) -> Tally:
        return await replay(store_dsn, Selection(), TZ, BatchWriter(config), dry_run)

    still = run(go(narrow))
    assert (still.replayed, still.events_stored, still.new_letters) == (7, 0, 7)
    assert len(_letters(store_dsn)) == 7  # refused by the store again: letters again
    done = run(go(wide))
    assert (done.events_stored, done.readings_stored, done.new_letters) == (3, 4, 0)
    assert _letters(store_dsn) == []
    with psycopg.connect(store_dsn) as conn:
        ids = {r[0] for r in conn.execute("SELECT id FROM events").fetchall()}
        n = conn.execute("SELECT count(*) FROM readings").fetchone()
    assert ids == {e.id for e in events} and n == (4,)


def test_only_the_selected_letters_are_replayed(store_dsn: str) -> None:
    sample = _isapi("motion.xml", 3)
    traffic = "city/traffic/traffic-s0/traffic/native/isapi"
    _write(store_dsn, dead_letters=[DeadLetter(ISAPI_TOPIC, "no adapter", sample),
                                    DeadLetter(traffic, "no adapter", sample)])
    done = run(replay(store_dsn, Selection(department="traffic"), TZ, BatchWriter()))
    assert (done.selected, done.replayed) == (1, 1)
    assert [x[1] for x in _letters(store_dsn)] == [ISAPI_TOPIC]
