"""The harness's private PostgreSQL and Mosquitto are real servers."""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
import psycopg
import pytest

from core.net import port_open
from core.programs import require_binary
from devkit.embedded import EmbeddedBroker, EmbeddedPostgres, ServiceError


def test_postgres_round_trip(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, note text)")
        conn.execute("INSERT INTO t VALUES (1, 'hello'), (2, 'city')")
        conn.commit()
        rows = conn.execute("SELECT note FROM t ORDER BY id").fetchall()
        server = conn.execute("SHOW server_version").fetchone()
    assert rows == [("hello",), ("city",)]
    assert server is not None and server[0].startswith(("15", "16", "17"))


def test_broker_round_trip_qos1(broker: EmbeddedBroker) -> None:
    got: list[tuple[str, bytes, int]] = []
    arrived = threading.Event()
    subscribed = threading.Event()

    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    sub.on_subscribe = lambda *a: subscribed.set()

    def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        got.append((msg.topic, bytes(msg.payload), msg.qos))
        arrived.set()

    sub.on_message = on_message
    sub.connect("127.0.0.1", broker.port)
    sub.subscribe("harness/#", qos=1)
    sub.loop_start()
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    try:
        assert subscribed.wait(5)
        info = pub.publish("harness/round-trip", b"ping", qos=1)
        info.wait_for_publish(5)
        assert info.is_published()
        assert arrived.wait(5)
    finally:
        for c in (pub, sub):
            c.disconnect()
            c.loop_stop()
    assert got == [("harness/round-trip", b"ping", 1)]


def test_broker_restart_keeps_port_and_persistent_session(private_broker: EmbeddedBroker) -> None:
    """A QoS 1 message for an absent persistent subscriber survives a broker restart."""
    props = mqtt.Properties(mqtt.PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600

    def connect(client_id: str) -> mqtt.Client:
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        c.connect("127.0.0.1", private_broker.port, clean_start=False, properties=props)
        return c

    sub = connect("keeper")
    sub.loop_start()
    sub.subscribe("keep/#", qos=1)[0]
    sub.disconnect()
    sub.loop_stop()

    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    pub.connect("127.0.0.1", private_broker.port)
    pub.loop_start()
    pub.publish("keep/x", b"kept", qos=1).wait_for_publish(5)
    pub.disconnect()
    pub.loop_stop()

    port = private_broker.port
    private_broker.restart()
    assert private_broker.port == port and port_open(port)

    arrived = threading.Event()
    payloads: list[bytes] = []
    sub = connect("keeper")

    def keep(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        payloads.append(bytes(msg.payload))
        arrived.set()

    sub.on_message = keep
    sub.loop_start()
    try:
        assert arrived.wait(10), "queued message lost across the restart"
    finally:
        sub.disconnect()
        sub.loop_stop()
    assert payloads == [b"kept"]


def test_postgres_stop_start_same_port(private_pg: EmbeddedPostgres) -> None:
    with psycopg.connect(private_pg.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (v int)")
        conn.execute("INSERT INTO kept VALUES (42)")
    private_pg.stop()
    assert not port_open(private_pg.port)
    private_pg.start()
    with psycopg.connect(private_pg.dsn) as conn:
        assert conn.execute("SELECT v FROM kept").fetchone() == (42,)


def test_missing_binary_names_the_package() -> None:
    with pytest.raises(ServiceError, match="install the Debian package 'no-such-pkg'"):
        require_binary("no-such-binary-cityhub", "no-such-pkg")
