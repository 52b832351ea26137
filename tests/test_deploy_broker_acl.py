"""Edge-box broker identity on a real Mosquitto: each box publishes only under its own site."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.embedded import EmbeddedBroker
from devkit.fixtures.mqtt_probe import ProbeClient
from hub.broker_users import HUB_USER, INGEST_USER, acl_text, edge_username, write_broker_users
from hub.config import load_config

CITY = {
    "departments": [{"id": "police", "name": "Police"}, {"id": "traffic", "name": "Traffic"}],
    "sites": [
        {"id": "s1", "name": "Site 1", "department": "police"},
        {"id": "s2", "name": "Site 2", "department": "police"},
        {"id": "t1", "name": "Junction T1", "department": "traffic"},
    ],
}


@pytest.fixture
def acl_broker(tmp_path: Path) -> Iterator[tuple[EmbeddedBroker, dict[str, str]]]:
    out = tmp_path / "broker-users"
    write_broker_users(load_config(None, **CITY), out)
    passwords = {}
    for env in (out / "credentials").glob("*.env"):
        kv = dict(line.split("=", 1) for line in env.read_text().splitlines())
        passwords[kv["CITYHUB_BROKER__USERNAME"]] = kv["CITYHUB_BROKER__PASSWORD"]
    conf = f"allow_anonymous false\npassword_file {out / 'passwd'}\nacl_file {out / 'acl'}\n"
    with EmbeddedBroker(tmp_path / "mqtt", extra_conf=conf) as broker:
        yield broker, passwords


@pytest.fixture
def login(acl_broker) -> Iterator:
    broker, passwords = acl_broker
    clients: list[ProbeClient] = []

    def _login(user: str) -> ProbeClient:
        c = ProbeClient(broker.port, user, passwords[user])
        assert not c.connect_rc.is_failure, c.connect_rc
        clients.append(c)
        return c

    yield _login
    for c in clients:
        c.close()


def test_edge_publishes_under_its_own_site_only(login):
    ingest = login(INGEST_USER)
    assert not ingest.subscribe("$share/cityhub-ingest/city/#").is_failure
    edge = login(edge_username("s1"))

    for topic in (
        "city/police/s1/hikvision/events",
        "city/police/s1/sensor/readings",
        "city/police/s1/hikvision/native/isapi-xml",
        "city/police/s1/edge/health",
        "city/police/s1/edge/status",
        f"city/police/s1/edge/media/{'ab' * 32}",
    ):
        assert not edge.publish(topic, topic.encode()).is_failure
        assert ingest.received() == (topic, topic.encode())

    for topic in (
        "city/police/s2/hikvision/events",  # another site of its department
        "city/traffic/s1/hikvision/events",  # its site id under another department
        "city/traffic/t1/sensor/readings",
        "city/police/s1/edge/config",  # config comes from the hub, not the box
        f"city/police/s2/edge/media/{'ab' * 32}",
        "city/police/s1",
        "elsewhere/x",
    ):
        rc = edge.publish(topic)
        assert rc.is_failure and rc.getName() == "Not authorized", (topic, rc)
    assert ingest.received(timeout=0.5) is None  # nothing denied reached the hub


def test_edge_cannot_read_others_topics_and_gets_its_config(login):
    snoop = login(edge_username("s1"))
    # Mosquitto 2.0's acl_file grants every SUBSCRIBE and checks the read ACL on each
    # delivery: what counts is that nothing of another site is ever delivered.
    for topic in (
        "#",
        "city/#",
        "city/police/+/edge/config",
        "city/police/s2/edge/config",
        "city/police/s2/hikvision/events",
    ):
        snoop.subscribe(topic)
    edge = login(edge_username("s1"))
    assert not edge.subscribe("city/police/s1/edge/config").is_failure

    hub = login(HUB_USER)
    other = login(edge_username("s2"))
    assert not other.publish("city/police/s2/hikvision/events", b"s2 event").is_failure
    assert not other.publish("city/police/s2/edge/health", b"s2 health").is_failure
    assert not hub.publish("city/police/s2/edge/config", b"for s2").is_failure
    assert not hub.publish("city/police/s1/edge/config", b"for s1").is_failure
    assert edge.received() == ("city/police/s1/edge/config", b"for s1")
    assert edge.received(timeout=0.5) is None
    # the snooping wildcard subscriber got its own config and nothing of s2's
    # (one copy per overlapping subscription that matches its own config topic)
    seen = [snoop.received()]
    while (more := snoop.received(timeout=0.5)) is not None:
        seen.append(more)
    assert set(seen) == {("city/police/s1/edge/config", b"for s1")}


def test_services_are_limited_too(login):
    ingest = login(INGEST_USER)
    assert ingest.publish("city/police/s1/edge/config").is_failure  # ingest only reads
    hub = login(HUB_USER)
    assert hub.publish("city/police/s1/hikvision/events").is_failure  # hub cannot forge events
    hub.subscribe("city/#")
    edge = login(edge_username("t1"))
    assert not edge.publish("city/traffic/t1/hikvision/events", b"event").is_failure
    assert not edge.publish("city/traffic/t1/edge/health", b"ok").is_failure
    assert hub.received() == ("city/traffic/t1/edge/health", b"ok")  # events are ingest's
    assert hub.received(timeout=0.5) is None


def test_wrong_or_missing_credentials_are_refused(acl_broker):
    broker, passwords = acl_broker
    for user, password in ((None, None), ("edge-s1", "wrong"), ("nobody", "x")):
        client = ProbeClient(broker.port, user, password)
        try:
            assert client.connect_rc.is_failure, (user, client.connect_rc)
        finally:
            client.close()


def test_generated_files_are_private_and_rerun_keeps_passwords(tmp_path):
    out = tmp_path / "users"
    cfg = load_config(None, **CITY)
    write_broker_users(cfg, out)
    first = (out / "credentials" / "edge-s1.env").read_text()
    passwd = (out / "passwd").read_text()
    assert "$7$" in passwd and first.split("PASSWORD=")[1].strip() not in passwd  # hashed
    for f in [out / "passwd", *(out / "credentials").iterdir()]:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    bigger = load_config(
        None,
        **{**CITY, "sites": [*CITY["sites"], {"id": "s3", "name": "S3", "department": "police"}]},
    )
    write_broker_users(bigger, out)
    assert (out / "credentials" / "edge-s1.env").read_text() == first
    assert "user edge-s3" in (out / "acl").read_text()
    assert (out / "acl").read_text() == acl_text(bigger)


def test_site_names_cannot_inject_acl_lines():
    city = {**CITY, "sites": [{"id": "s9", "name": "x\ntopic write #", "department": "police"}]}
    lines = acl_text(load_config(None, **city)).splitlines()
    assert "topic write #" not in lines and "# x topic write #" in lines


def test_emqx_rules_match_the_mosquitto_rules(tmp_path):
    """EMQX's acl.conf grants exactly the topics the Mosquitto ACL grants, then denies all."""
    import re

    cfg = load_config(None, **CITY)
    write_broker_users(cfg, tmp_path, emqx=True)
    emqx = (tmp_path / "emqx-acl.conf").read_text().splitlines()
    assert emqx[-1] == "{deny, all}."
    granted = set()
    for line in emqx[1:-1]:
        user, action, topics = re.fullmatch(
            r'\{allow, \{username, "([^"]+)"\}, (publish|subscribe), \[(.*)\]\}\.', line
        ).groups()
        for topic in re.findall(r'"([^"]+)"', topics):
            if not topic.startswith("$share/"):
                granted.add((user, "write" if action == "publish" else "read", topic))
    mosquitto, user = set(), None
    for line in acl_text(cfg).splitlines():
        if line.startswith("user "):
            user = line.split()[1]
        elif line.startswith("topic "):
            _, access, topic = line.split()
            mosquitto.add((user, access, topic))
    assert granted == mosquitto
    users = (tmp_path / "emqx-users.json")
    assert stat.S_IMODE(users.stat().st_mode) == 0o600
