"""Ids of other departments' objects are not confirmed (#13): for every endpoint that takes an
id (in the path or the body), an object the caller may not see answers byte for byte as one
that does not exist (status, code and detail)."""

from __future__ import annotations

import io
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PIL import Image

from core.discovery import DiscoveryReport
from devkit.fixtures.hubapi import HubApi, build_hub, seed_city
from devkit.fixtures.services import PgServer
from hub.store.pending_cameras import Discovered, record_one

CALLER = "police"  # no grants anywhere: every object of another department is hidden from it
OWNER = "traffic"
SOON = (datetime.now(UTC) + timedelta(days=1)).isoformat()
NOW = datetime.now(UTC)


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def city(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        tuple[HubApi, dict[str, str]]]:
    """The hub, and one hidden object of each kind (all owned by ``OWNER``)."""
    dsn = pg_server.create_database()
    hub = build_hub(dsn, tmp_path_factory.mktemp("hidden-ids"))
    world = seed_city(hub)
    with hub.client:
        c, owner = hub.client, hub.headers(OWNER)

        def made(r: Any) -> dict[str, Any]:
            assert r.status_code in (200, 201), r.text
            return dict(r.json())

        hub.add_user("traffic-clerk", OWNER, ["operator"])
        event = next(e for e, (d, *_rest) in world.events.items() if d == OWNER)
        incident = made(c.post("/api/v1/incidents", headers=owner, json={
            "kind": "jam", "title": "Jam", "site": "traffic-s0"}))
        photo = made(c.post(f"/api/v1/incidents/{incident['id']}/photos", headers=owner,
                            files={"file": ("x.jpg", _jpeg(), "image/jpeg")}))["photos"][0]
        rule = made(c.post("/api/v1/incident-rules", headers=owner, json={
            "name": "r", "event_kinds": ["alarm"], "incident_kind": "alarm"}))
        grant = made(c.post("/api/v1/grants", headers=owner, json={
            "grantee": "citymgmt", "resources": ["events"], "purpose": "an audit",
            "expires_at": SOON}))
        key = made(c.post("/api/v1/api-keys", headers=owner,
                          json={"name": "k", "roles": ["analyst"]}))
        users = c.get("/api/v1/users", headers=owner).json()
        with hub.owner() as conn:
            found = DiscoveryReport(device="box", xaddrs=["http://10.1.2.3/onvif/device_service"],
                                    first_seen=NOW, last_seen=NOW)
            pending = record_one(conn, Discovered(OWNER, "traffic-s0", found))
            letter = conn.execute(
                "INSERT INTO dead_letters (topic, reason, payload, payload_size, department_id)"
                " VALUES ('city/traffic/traffic-s0/traffic/native/x', 'bad', 'x', 1, %s)"
                " RETURNING id", (OWNER,)).fetchone()
        hidden = {
            "camera": "traffic-s0-c0", "site": "traffic-s0", "sensor": "traffic-s0-aq",
            "event": event, "incident": incident["id"], "photo": photo["id"],
            "rule": rule["id"], "grant": grant["id"], "api_key": key["id"],
            "user": next(u["id"] for u in users if u["username"] == "traffic-clerk"),
            "pending_camera": pending, "dead_letter": str(letter[0]) if letter else "",
        }
        yield hub, hidden
    hub.runtime.close()
    pg_server.drop_database(dsn)


def _missing(kind: str) -> str:
    if kind in ("event", "incident", "photo", "rule", "grant", "user", "pending_camera"):
        return str(uuid.uuid4())
    if kind == "api_key":
        return secrets.token_hex(8)
    if kind == "dead_letter":
        return str(2**40 + secrets.randbelow(2**20))
    return f"no-such-{kind}-{secrets.token_hex(3)}"


def _span(camera: str) -> dict[str, str]:
    return {"camera": camera, "starts_at": (NOW - timedelta(minutes=5)).isoformat(),
            "ends_at": NOW.isoformat()}


#: (name, kind of the id, method, path, body): ``{id}`` is replaced by the hidden or missing id;
#: ``{own_incident}`` by an incident the caller owns.
CASES: list[tuple[str, str, str, str, Any]] = [
    ("camera.get", "camera", "GET", "/cameras/{id}", None),
    ("camera.patch", "camera", "PATCH", "/cameras/{id}", {"name": "x"}),
    ("camera.delete", "camera", "DELETE", "/cameras/{id}", None),
    ("camera.play", "camera", "POST", "/cameras/{id}/play", {"protocols": ["webrtc"]}),
    ("camera.playback", "camera", "POST", "/cameras/{id}/play", {"protocols": ["playback"]}),
    ("camera.create.site", "site", "POST", "/cameras", {
        "id": "new-cam", "name": "n", "site": "{id}", "system": "edge", "url": "rtsp://h/x"}),
    # The body is checked whole before the id is looked at: a bad URL answers alike.
    ("camera.create.id.bad_url", "camera", "POST", "/cameras", {
        "id": "{id}", "name": "n", "site": "police-s0", "system": "edge", "url": "http://h/x"}),
    ("events.filter.camera", "camera", "GET", "/events?cameras={id}", None),
    ("events.counts.site", "site", "GET", "/events/counts?sites={id}&bucket=hour", None),
    ("readings.latest.site", "site", "GET", "/readings/latest?sites={id}", None),
    ("site.get", "site", "GET", "/sites/{id}", None),
    ("site.patch", "site", "PATCH", "/sites/{id}", {"name": "x"}),
    ("site.delete", "site", "DELETE", "/sites/{id}", None),
    ("sensor.get", "sensor", "GET", "/sensors/{id}", None),
    ("sensor.patch", "sensor", "PATCH", "/sensors/{id}", {"kind": "x"}),
    ("sensor.delete", "sensor", "DELETE", "/sensors/{id}", None),
    ("sensor.create.site", "site", "POST", "/sensors", {"id": "new-s", "site": "{id}",
                                                        "kind": "aq"}),
    ("readings.series", "sensor", "GET",
     f"/readings/series?sensor={{id}}&metric=pm25&start={(NOW - timedelta(hours=1)).isoformat()}"
     f"&end={(NOW + timedelta(minutes=1)).isoformat()}".replace("+", "%2B"), None),
    ("readings.latest", "sensor", "GET", "/readings/latest?sensors={id}", None),
    ("event.get", "event", "GET", "/events/{id}", None),
    ("event.evidence", "event", "POST", "/events/{id}/evidence", None),
    ("grant.get", "grant", "GET", "/grants/{id}", None),
    ("grant.revoke", "grant", "POST", "/grants/{id}/revoke", None),
    *[(f"grant.create.{dim}", kind, "POST", "/grants", {
        "grantee": "bus", "resources": ["video", "readings"], "purpose": "an audit",
        "expires_at": SOON, dim: ["{id}"]})
      for dim, kind in (("cameras", "camera"), ("sites", "site"), ("sensors", "sensor"))],
    ("user.patch", "user", "PATCH", "/users/{id}", {"display_name": "x"}),
    ("api_key.revoke", "api_key", "DELETE", "/api-keys/{id}", None),
    ("incident.get", "incident", "GET", "/incidents/{id}", None),
    ("incident.action", "incident", "POST", "/incidents/{id}/actions/acknowledge", {}),
    ("incident.comment", "incident", "POST", "/incidents/{id}/comments", {"body": "x"}),
    ("incident.attach", "incident", "POST", "/incidents/{id}/attachments", {"events": []}),
    ("incident.photo.get", "photo", "GET", "/incidents/{own_incident}/photos/{id}", None),
    ("incident.create.site", "site", "POST", "/incidents", {
        "kind": "k", "title": "t", "site": "{id}"}),
    ("incident.create.event", "event", "POST", "/incidents", {
        "kind": "k", "title": "t", "events": ["{id}"]}),
    ("incident.create.camera", "camera", "POST", "/incidents", {
        "kind": "k", "title": "t", "cameras": [_span("{id}")]}),
    ("incident.attach.event", "event", "POST", "/incidents/{own_incident}/attachments", {
        "events": ["{id}"]}),
    ("incident.attach.camera", "camera", "POST", "/incidents/{own_incident}/attachments", {
        "cameras": [_span("{id}")]}),
    ("pending_camera.accept", "pending_camera", "POST", "/pending-cameras/{id}/accept", {
        "id": "new-cam", "name": "n", "system": "edge", "username": "u", "password": "p"}),
    ("pending_camera.reject", "pending_camera", "POST", "/pending-cameras/{id}/reject", {
        "reason": "r"}),
    ("incident_rule.put", "rule", "PUT", "/incident-rules/{id}", {
        "name": "r", "event_kinds": ["alarm"], "incident_kind": "alarm"}),
    ("incident_rule.delete", "rule", "DELETE", "/incident-rules/{id}", None),
    ("dead_letter.payload", "dead_letter", "GET", "/dead-letters/{id}/payload", None),
]


def _fill(value: Any, subs: dict[str, str]) -> Any:
    if isinstance(value, str):
        for key, sub in subs.items():
            value = value.replace("{" + key + "}", sub)
        return value
    if isinstance(value, list):
        return [_fill(v, subs) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, subs) for k, v in value.items()}
    return value


@pytest.fixture(scope="module")
def own_incident(city: tuple[HubApi, dict[str, str]]) -> str:
    hub, _ = city
    r = hub.client.post("/api/v1/incidents", headers=hub.headers(CALLER),
                        json={"kind": "k", "title": "own"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


@pytest.mark.parametrize(("kind", "method", "path", "body"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_hidden_id_answers_as_a_missing_one(
    city: tuple[HubApi, dict[str, str]], own_incident: str, kind: str, method: str, path: str,
    body: Any,
) -> None:
    hub, hidden = city
    answers = []
    for ident in (hidden[kind], _missing(kind)):
        subs = {"id": ident, "own_incident": own_incident}
        r = hub.client.request(method, "/api/v1" + _fill(path, subs), headers=hub.headers(CALLER),
                               json=_fill(body, subs))
        text = r.text.replace(ident, "<id>")  # the id itself may be echoed back
        answers.append((r.status_code, text))
    assert answers[0] == answers[1], f"hidden {answers[0]} != missing {answers[1]}"
    assert answers[0][0] >= 400 or answers[0][1] in ("[]", ""), answers[0]


def test_the_hidden_objects_exist(city: tuple[HubApi, dict[str, str]]) -> None:
    """The comparison means something only if the owner does see them."""
    hub, hidden = city
    owner = hub.headers(OWNER)
    for path in (f"/cameras/{hidden['camera']}", f"/sites/{hidden['site']}",
                 f"/sensors/{hidden['sensor']}", f"/events/{hidden['event']}",
                 f"/incidents/{hidden['incident']}", f"/grants/{hidden['grant']}",
                 f"/incidents/{hidden['incident']}/photos/{hidden['photo']}",
                 f"/dead-letters/{hidden['dead_letter']}/payload"):
        assert hub.client.get("/api/v1" + path, headers=owner).status_code == 200, path
