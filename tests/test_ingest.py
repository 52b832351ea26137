"""Ingest end to end: real Mosquitto, real PostgreSQL, real ``cityhub ingest`` processes."""

from __future__ import annotations

import json
from importlib import resources

import psycopg
import yaml

from devkit.embedded import EmbeddedBroker
from devkit.fixtures.ingest import count, publish_all, wait_count
from devkit.fixtures.wait import settle
from hub.ingest.pipeline import adapt_message
from hub.store.scalar import scalar
from tests.test_adapters import BILLION_LAUGHS, NOW, XXE


def _samples() -> list[tuple[str, bytes]]:
    root = resources.files("adapters").joinpath("samples")
    index = yaml.safe_load(root.joinpath("index.yaml").read_text("utf-8"))
    return [(topic, root.joinpath(path).read_bytes()) for path, topic in index.items()]


HOSTILE = [
    ("city/police/xinhua-5th/safecity/native/isapi", b"<EventNotificationAlert><eventType>"),
    ("city/police/xinhua-5th/safecity/native/isapi", BILLION_LAUGHS),
    ("city/police/xinhua-5th/safecity/native/gb28181", XXE),
    (
        "city/police/xinhua-5th/safecity/native/gb28181",
        '<?xml version="1.0" encoding="UTF-8"?><Notify>报警</Notify>'.encode("gb2312"),
    ),
    ("city/traffic/renmin-2nd/traffic/native/anpr-json", b"\xff\xfe\x00{"),
    ("city/traffic/renmin-2nd/traffic/native/anpr-json", b"[" * 50_000 + b"]" * 50_000),
    (
        "city/traffic/renmin-2nd/traffic/native/anpr-json",
        json.dumps({"time": "2025-03-14T08:31:12+08:00", "plate": "A" * 1_000_000}).encode(),
    ),
    ("city/overload/g108-wim/overload/native/wim", b'{"gross_kg": "heavy", "axle_count": []}'),
    ("city/police/xinhua-5th/safecity/events", b'{"events": [{"occurred_at": 5}]}'),
    (
        "city/police/xinhua-5th/safecity/events",
        json.dumps(
            {
                "events": [
                    {
                        "occurred_at": "2025-03-14T12:00:00Z",
                        "kind": "motion",
                        "department": "traffic",
                    }
                ]
            }
        ).encode(),
    ),
    ("city/citymgmt/x/sensor/readings", b'[{"n": "a", "v": "NaN"}]'),
    (  # year 9999 with a negative offset is past datetime.max in UTC: a reason, no crash
        "city/police/xinhua-5th/safecity/native/isapi",
        b"<EventNotificationAlert><dateTime>9999-12-31T23:59:59-05:00</dateTime>"
        b"<eventType>VMD</eventType><eventState>active</eventState></EventNotificationAlert>",
    ),
    (  # RFC 8428 4.4: an unknown must-understand field rejects the entire pack
        "city/citymgmt/x/sensor/readings",
        b'[{"bn": "s1/", "n": "a", "v": 1}, {"n": "b", "v": 2, "ext_": 1}]',
    ),
    ("city/police/xinhua-5th/safecity/native/unknown-format", b"{}"),
    ("city/nowhere", b"{}"),
]


def test_samples_arrive_as_rows_and_hostile_payloads_as_dead_letters(
    migrated_dsn: str, private_broker: EmbeddedBroker, ingest_workers
) -> None:
    workers = ingest_workers(migrated_dsn, private_broker.url)
    workers.start(0)
    samples = _samples()
    expected_events = sum(len(adapt_message(t, p, NOW).events) for t, p in samples)
    expected_readings = sum(len(adapt_message(t, p, NOW).readings) for t, p in samples)
    publish_all(private_broker.url, samples + HOSTILE, "test-publisher")
    wait_count(migrated_dsn, "SELECT count(*) FROM dead_letters", len(HOSTILE), workers=workers)
    assert (
        wait_count(migrated_dsn, "SELECT count(*) FROM events", expected_events, workers=workers)
        == expected_events
    )
    assert (
        wait_count(
            migrated_dsn, "SELECT count(*) FROM readings", expected_readings, workers=workers
        )
        == expected_readings
    )
    assert count(migrated_dsn, "SELECT count(*) FROM dead_letters") == len(HOSTILE)
    assert workers.alive(0), workers.log(0)

    with psycopg.connect(migrated_dsn) as conn:
        wim = conn.execute(
            "SELECT w.gross_kg, w.limit_kg, w.overweight, e.kind, e.department_id "
            "FROM wim_records w JOIN events e ON e.id = w.event_id "
            "ORDER BY w.gross_kg DESC"
        ).fetchall()
        assert wim == [
            (61250, 49000, True, "overweight_vehicle", "overload"),
            (49001, 49000, True, "overweight_vehicle", "overload"),  # exact: 1 kg over
            (14300, 18000, False, "vehicle_weighed", "overload"),
        ]
        plate = conn.execute(
            "SELECT site_id, attributes->>'plate_color', source_system FROM events "
            "WHERE attributes->>'plate' = '川A9K2M7' ORDER BY 1, 2"
        ).fetchall()
        assert plate == [("renmin-2nd", "blue", "traffic"), ("renmin-2nd", "blue", "traffic")]
        gb = conn.execute(
            "SELECT kind, severity, attributes->>'description' FROM events "
            "WHERE device_id = '34020000001320000001'"
        ).fetchone()
        assert gb == ("intrusion", 3, "新华路五街入侵检测报警")
        reasons = [r[0] for r in conn.execute("SELECT reason FROM dead_letters ORDER BY reason")]
        assert any("forbidden XML construct" in r for r in reasons)
        assert any("nested deeper" in r for r in reasons)
        assert any("claims department 'traffic'" in r for r in reasons)
        assert any("not valid UTF-8" in r for r in reasons)
        assert any(r.startswith("invalid_encoding") for r in reasons)
        assert any(r.startswith("dateTime: 9999-12-31") for r in reasons)
        assert any("must-understand field 'ext_'" in r for r in reasons)
        kept = conn.execute(
            "SELECT payload FROM dead_letters WHERE topic LIKE '%%gb28181' "
            "AND reason LIKE '%%forbidden%%'"
        ).fetchone()
        assert kept is not None and bytes(kept[0]) == XXE  # kept for inspection as received

    # Redelivery of everything stores nothing twice.
    publish_all(private_broker.url, samples, "test-publisher-2")
    publish_all(
        private_broker.url,
        [("city/police/xinhua-5th/safecity/native/nosuch", b"marker")],
        "test-publisher-3",
    )
    wait_count(migrated_dsn, "SELECT count(*) FROM dead_letters", len(HOSTILE) + 1, workers=workers)
    assert count(migrated_dsn, "SELECT count(*) FROM events") == expected_events
    assert count(migrated_dsn, "SELECT count(*) FROM readings") == expected_readings


def test_two_workers_share_simulated_traffic_and_expose_metrics(
    migrated_dsn: str, private_broker: EmbeddedBroker, ingest_workers
) -> None:
    import subprocess
    import sys

    import httpx

    from core.net import free_port

    port = free_port()
    workers = ingest_workers(migrated_dsn, private_broker.url, metrics_port=port)
    workers.start(0)
    workers.start(1)  # metrics on port + 1
    sim = subprocess.run(
        [sys.executable, "-c", "from hub.cli import main; main()", "simulate", "all",
         "--rate", "3000", "--count", "3000", "--pack", "10", "--seed", "1",
         "--broker", private_broker.url],
        capture_output=True, text=True, timeout=120, check=True,
    )
    sent = json.loads(sim.stdout.strip().splitlines()[-1])
    assert sent["records"] >= 3000
    rows = "SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM readings)"
    def totals() -> tuple[list[float], float]:
        per_worker, duplicates = [], 0.0
        for i in (0, 1):
            text = httpx.get(f"http://127.0.0.1:{port + i}/metrics", timeout=5).text
            per_worker.append(_metric_sum(text, "cityhub_ingest_records_stored_total{"))
            duplicates += _metric_sum(text, "cityhub_ingest_records_duplicate_total{")
        return per_worker, duplicates

    # every record is stored or recognised as a duplicate (same sensor, metric, time)
    per_worker, duplicates = settle(totals, lambda t: sum(t[0]) + t[1] >= sent["records"], 60,
                                    step=0.2)
    assert sum(per_worker) + duplicates == sent["records"]
    assert count(migrated_dsn, rows) == sum(per_worker)
    assert duplicates < 0.01 * sent["records"]
    assert count(migrated_dsn, "SELECT count(*) FROM dead_letters") == 0
    assert all(n > 0 for n in per_worker), per_worker  # the shared subscription split the load
    for i in (0, 1):
        text = httpx.get(f"http://127.0.0.1:{port + i}/metrics", timeout=5).text
        for name in ("cityhub_ingest_messages_received_total", "cityhub_ingest_dead_lettered_total",
                     "cityhub_ingest_lag_seconds_bucket", "cityhub_ingest_batch_records_bucket",
                     "cityhub_ingest_unacked_messages"):
            assert name in text


def _metric_sum(text: str, prefix: str) -> float:
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(prefix))


def test_a_message_the_store_refuses_is_dead_lettered_and_the_rest_stored(
    migrated_dsn: str, private_broker: EmbeddedBroker, ingest_workers
) -> None:
    """The store refusing one message (here a trigger) must neither stall ingest nor lose
    the other messages of its batch."""
    with psycopg.connect(migrated_dsn, autocommit=True) as conn:
        conn.execute("""
            CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.topic LIKE '%poison%' AND NEW.reason NOT LIKE 'store refused%' THEN
                RAISE EXCEPTION 'refused by test trigger' USING ERRCODE = 'check_violation';
              END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER refuse_poison BEFORE INSERT ON dead_letters
              FOR EACH ROW EXECUTE FUNCTION refuse_poison();
        """)
    workers = ingest_workers(migrated_dsn, private_broker.url, batch_max_delay_ms=500)
    workers.start(0)
    samples = _samples()
    expected = sum(len(adapt_message(t, p, NOW).events) for t, p in samples)
    publish_all(private_broker.url,
                [*samples, ("city/police/xinhua-5th/safecity/native/poison", b"{}")], "pub")
    wait_count(migrated_dsn, "SELECT count(*) FROM dead_letters", 1, timeout=90, workers=workers)
    assert count(migrated_dsn, "SELECT count(*) FROM events") == expected
    with psycopg.connect(migrated_dsn) as conn:
        reason = scalar(conn, "SELECT reason FROM dead_letters")
    assert reason.startswith("store refused the message") and "refused by test trigger" in reason
    assert workers.alive(0)
