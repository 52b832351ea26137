"""Device identity: the agent logs in as its own broker user, publishes only under its site.

Users and ACL come from ``cityhub broker users`` (hub/broker_users.py, the
deploy engineer's generator), credentials reach the agent as systemd's
EnvironmentFile would give them. A box configured for a site its identity does
not own gets every publish refused (PUBACK 0x87) and keeps the events in its
outbox: refused evidence is never dropped.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from adapters.model import new_event_id
from devkit.embedded import EmbeddedBroker
from devkit.fixtures.edge import SITE, push_auth, site_yaml
from devkit.fixtures.wait import settle
from hub.broker_users import INGEST_USER, edge_username, write_broker_users
from hub.config import load_config

OTHER = {"id": "renmin-2nd", "name": "Renmin Rd / 2nd Ave", "department": "traffic"}


def creds(out: Path, user: str) -> dict[str, str]:
    text = (out / "credentials" / f"{user}.env").read_text()
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def push(url: str, site: dict[str, str], n: int = 5) -> list[str]:
    now = "2026-01-01T00:00:00+00:00"
    ids = [str(new_event_id()) for _ in range(n)]
    body = {
        "events": [
            {
                "id": i,
                "occurred_at": now,
                "source_system": "edge",
                "kind": "probe",
                "department": site["department"],
                "site": site["id"],
            }
            for i in ids
        ]
    }
    r = httpx.post(f"{url}/push/cityhub-events?system=edge", content=json.dumps(body), timeout=10,
                   auth=push_auth())
    assert r.status_code == 200, r.text
    return ids


def test_box_identity_publishes_under_its_own_site_only(
    tmp_path: Path, edge_agents, recorder_factory
) -> None:
    city = {
        "departments": [{"id": "police", "name": "P"}, {"id": "traffic", "name": "T"}],
        "sites": [SITE, OTHER],
    }
    out = tmp_path / "broker-users"
    write_broker_users(load_config(None, **city), out)
    conf = f"allow_anonymous false\npassword_file {out / 'passwd'}\nacl_file {out / 'acl'}\n"
    with EmbeddedBroker(tmp_path / "mqtt", extra_conf=conf) as broker:
        ingest = creds(out, INGEST_USER)
        rec = recorder_factory(
            broker.url,
            "city/#",
            (ingest["CITYHUB_BROKER__USERNAME"], ingest["CITYHUB_BROKER__PASSWORD"]),
        )
        box = creds(out, edge_username(SITE["id"]))
        (tmp_path / "own").mkdir()
        own = edge_agents(
            site_yaml(tmp_path / "own" / "site.yaml", broker.url, adapters=["cityhub-events"]),
            env=box,
        )
        ids = push(own.url, SITE)
        rec.wait(lambda r: set(ids) <= set(r.ids), 20, "the box's events at the hub")
        rec.wait(lambda r: any(h["device"] == "box1" for h in r.health), 20, "its health")
        assert box["CITYHUB_BROKER__PASSWORD"] not in (tmp_path / "own" / "site.yaml").read_text()

        # The same identity configured for another site: the broker refuses, the box keeps them.
        (tmp_path / "stolen").mkdir()
        stolen_cfg = site_yaml(
            tmp_path / "stolen" / "site.yaml",
            broker.url,
            adapters=["cityhub-events"],
            site=OTHER,
            device="box2",
        )
        stolen = edge_agents(stolen_cfg, env={**box, "CITYHUB_BROKER__CLIENT_ID": "box2"})
        foreign = push(stolen.url, OTHER)
        health = settle(lambda: httpx.get(f"{stolen.url}/health").json(),
                        lambda h: h["uplink"]["refused"] >= len(foreign), 20, step=0.2)
        assert health["uplink"]["refused"] >= len(foreign)
        assert health["outbox"]["evidence"] >= len(foreign)  # kept, not dropped
        ids2 = push(own.url, SITE)  # the rightful box is unaffected
        rec.wait(lambda r: set(ids2) <= set(r.ids), 20, "the box's later events")
        assert not set(foreign) & set(rec.ids)
        assert not [h for h in rec.health if h["device"] == "box2"]
