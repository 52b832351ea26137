"""Who may push to the edge listener: per-device digest credentials, allow-lists, formats;
and the demo city's box, whose device's password the demo keeps in a private file.

The listener's app on a real uvicorn server on a loopback port; pushes are ISAPI alerts
and cityhub event packs, answered by the same adapters as on a box; what is accepted
is what reaches ``submit`` (the outbox on a box). Source addresses differ by binding
the client to 127.0.0.2 etc. (all of 127.0.0.0/8 is loopback).
"""

from __future__ import annotations

import base64
import json
import logging
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from adapters.isapi import IsapiAdapter
from adapters.model import Event, Reading, new_event_id
from core import digest
from core.files import write_private
from devkit.demo.edge import start_edge
from devkit.demo.runner import demo_config
from devkit.demo.stack import Stack
from devkit.embedded import EmbeddedBroker
from devkit.fixtures.hubapi import serve_asgi
from edge.config import EdgeConfig
from edge.evidence import SnapshotStore
from edge.listener import build_app
from edge.push_auth import PushAuth

SECRET = b"k" * 32
CAMERA_PW, WIM_PW, OLD_PW = "anpr-pass-1", "wim-pass-22", "basic-pass-3"
SAMPLE = next(iter(IsapiAdapter.samples().values()))
PATH = "/push/isapi?system=traffic"


def site(tmp_path: Path, **push: Any) -> dict[str, Any]:
    pw_file = write_private(tmp_path / "secrets" / "anpr", CAMERA_PW + "\n")
    return {
        "device": "box1",
        "site": {"id": "xinhua-5th", "name": "X", "department": "police"},
        "state_dir": str(tmp_path / "state"),
        "adapters": ["isapi", "cityhub-events"],
        "push": {
            "devices": [
                {"id": "anpr-1", "password_file": str(pw_file), "formats": ["isapi"]},
                {"id": "wim-1", "username": "wim", "password": WIM_PW,
                 "allow_from": ["127.0.0.1/32", "::1"]},
                {"id": "old-cam", "password": OLD_PW, "basic": True},
            ],
            **push,
        },
    }


class Listener:
    def __init__(self, url: str, guard: PushAuth, landed: list[Event]) -> None:
        self.url, self.guard, self.landed = url, guard, landed

    def post(self, path: str = PATH, body: bytes = SAMPLE, source: str = "127.0.0.1",
             **kw: Any) -> httpx.Response:
        transport = httpx.HTTPTransport(local_address=source)
        with httpx.Client(transport=transport, timeout=10) as http:
            return http.post(self.url + path, content=body, **kw)

    def refused(self) -> dict[str, int]:
        return self.guard.stats()["refused"]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Listener]]:
    """Serve a listener whose ``push`` section is the default one updated with ``push``."""
    with ExitStack() as stack:

        def make(**push: Any) -> Listener:
            config = EdgeConfig.model_validate(site(tmp_path, **push))
            guard = PushAuth(config, secret=SECRET)
            landed: list[Event] = []

            def submit(events: list[Event], readings: list[Reading]) -> None:
                landed.extend(events)

            app = build_app(config, submit, SnapshotStore(tmp_path / "snaps", "http://box"),
                            lambda: {}, guard)
            return Listener(stack.enter_context(serve_asgi(app)), guard, landed)

        yield make


@pytest.fixture
def listener(serve: Callable[..., Listener]) -> Listener:
    return serve()


def test_a_device_with_its_digest_credentials_pushes_and_its_events_land(
    listener: Listener,
) -> None:
    auth = httpx.DigestAuth("anpr-1", CAMERA_PW)
    first = listener.post(auth=auth)
    assert first.status_code == 200, first.text
    (event_id,) = first.json()["ids"]
    assert [str(e.id) for e in listener.landed] == [event_id]
    # The client reuses the challenge with growing nonce counts: no 401 round trip after the first.
    with httpx.Client(auth=auth, timeout=10) as http:
        statuses = [http.post(listener.url + PATH, content=SAMPLE).status_code for _ in range(5)]
    assert statuses == [200] * 5
    assert listener.guard.stats()["accepted"] == {"anpr-1": 6}
    assert listener.refused() == {"missing": 1}  # the first request's challenge, nothing else


def test_wrong_password_unknown_user_or_none_is_401_with_a_challenge_and_counted(
    listener: Listener, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="edge.push_auth")
    for auth in (httpx.DigestAuth("anpr-1", "guess-guess"), httpx.DigestAuth("nobody", CAMERA_PW),
                 None):
        r = listener.post(auth=auth)
        assert r.status_code == 401, r.text
        assert r.headers["www-authenticate"].startswith('Digest realm="cityhub-edge box1"')
        assert 'qop="auth"' in r.headers["www-authenticate"]
    assert listener.refused() == {"missing": 3, "wrong_password": 1, "unknown_user": 1}
    assert listener.landed == []
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("wrong_password" in m and "device=anpr-1" in m and "address=127.0.0.1" in m
               for m in warned), warned
    assert any("unknown_user" in m for m in warned), warned
    logged = caplog.text
    assert "guess-guess" not in logged and CAMERA_PW not in logged
    # Good data still flows afterwards.
    assert listener.post(auth=httpx.DigestAuth("anpr-1", CAMERA_PW)).status_code == 200
    assert len(listener.landed) == 1


def test_address_outside_the_allow_list_is_403_and_inside_it_is_accepted(
    listener: Listener,
) -> None:
    body = json.dumps({"events": [{
        "id": str(new_event_id()), "occurred_at": "2026-01-01T00:00:00+00:00",
        "source_system": "overload", "kind": "weigh", "department": "police",
        "site": "xinhua-5th"}]}).encode()
    path = "/push/cityhub-events?system=overload"
    auth = httpx.DigestAuth("wim", WIM_PW)
    outside = listener.post(path, body, source="127.0.0.2", auth=auth)
    assert outside.status_code == 403 and outside.json() == {"detail": "address"}
    assert listener.post(path, body, source="127.0.0.1", auth=auth).status_code == 200
    # A device limited to ISAPI may not push event packs, wherever it is.
    other = listener.post(path, body, auth=httpx.DigestAuth("anpr-1", CAMERA_PW))
    assert other.status_code == 403 and other.json() == {"detail": "format"}
    assert listener.refused()["address"] == 1 and listener.refused()["format"] == 1
    assert len(listener.landed) == 1


def test_when_every_device_is_fenced_other_addresses_are_refused_before_any_auth(
    serve: Callable[..., Listener],
) -> None:
    listener = serve(devices=[{"id": "lane", "password": WIM_PW, "allow_from": ["127.0.0.3"]}])
    assert listener.post(source="127.0.0.4").status_code == 403  # no credentials even asked
    assert listener.post(source="127.0.0.3").status_code == 401  # in the fence: challenged
    ok = listener.post(source="127.0.0.3", auth=httpx.DigestAuth("lane", WIM_PW))
    assert ok.status_code == 200, ok.text


def _challenge(listener: Listener) -> str:
    r = listener.post()
    assert r.status_code == 401
    return r.headers["www-authenticate"]


def test_a_replayed_request_is_refused_and_a_stale_nonce_is_renewed(listener: Listener) -> None:
    header = digest.authorization(_challenge(listener), "POST", PATH, "anpr-1", CAMERA_PW)
    assert listener.post(headers={"Authorization": header}).status_code == 200
    replay = listener.post(headers={"Authorization": header})
    assert replay.status_code == 401 and "stale=TRUE" in replay.headers["www-authenticate"]
    assert len(listener.landed) == 1 and listener.refused()["replay"] == 1
    # A nonce issued an hour ago, answered with the right password: stale, a fresh one offered.
    old = digest.challenge("cityhub-edge box1", digest.make_nonce(SECRET, time.time() - 3600))
    stale = listener.post(headers={"Authorization": digest.authorization(
        old, "POST", PATH, "anpr-1", CAMERA_PW)})
    assert stale.status_code == 401 and "stale=TRUE" in stale.headers["www-authenticate"]
    fresh = digest.authorization(stale.headers["www-authenticate"], "POST", PATH, "anpr-1",
                                 CAMERA_PW)
    assert listener.post(headers={"Authorization": fresh}).status_code == 200
    # A nonce of an earlier run of the box (another secret): stale too, so clients re-authenticate.
    before = digest.challenge("cityhub-edge box1", digest.make_nonce(b"x" * 32))
    restarted = listener.post(headers={"Authorization": digest.authorization(
        before, "POST", PATH, "anpr-1", CAMERA_PW)})
    assert restarted.status_code == 401 and "stale=TRUE" in restarted.headers["www-authenticate"]
    # The digest covers the request target: the same answer for another URL is refused.
    moved = digest.authorization(_challenge(listener), "POST", "/push/isapi?system=other",
                                 "anpr-1", CAMERA_PW)
    assert listener.post(headers={"Authorization": moved}).status_code == 401
    assert listener.refused()["malformed"] == 1 and len(listener.landed) == 2


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_basic_only_for_a_device_configured_for_it(listener: Listener) -> None:
    assert listener.post(headers=_basic("old-cam", OLD_PW)).status_code == 200
    assert listener.post(headers=_basic("old-cam", "nope-nope")).status_code == 401
    refused = listener.post(headers=_basic("anpr-1", CAMERA_PW))
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Digest")
    assert listener.refused() == {"wrong_password": 1, "basic_not_allowed": 1}


def test_sha256_is_offered_first_and_accepted(serve: Callable[..., Listener]) -> None:
    listener = serve(algorithms=["SHA-256", "MD5"])
    r = listener.post()
    offered = httpx.Headers(r.headers).get_list("www-authenticate")
    assert ["algorithm=SHA-256" in offered[0], "algorithm=MD5" in offered[1]] == [True, True]
    seen: list[str] = []
    with httpx.Client(auth=httpx.DigestAuth("anpr-1", CAMERA_PW), timeout=10,
                      event_hooks={"request": [lambda q: seen.append(
                          q.headers.get("authorization", ""))]}) as http:
        assert http.post(listener.url + PATH, content=SAMPLE).status_code == 200
    assert "algorithm=SHA-256" in seen[-1]


def test_an_algorithm_not_offered_is_refused(serve: Callable[..., Listener]) -> None:
    listener = serve(algorithms=["SHA-256"])
    md5 = _challenge(listener).replace("algorithm=SHA-256", "algorithm=MD5")
    header = digest.authorization(md5, "POST", PATH, "anpr-1", CAMERA_PW)
    assert listener.post(headers={"Authorization": header}).status_code == 401
    assert listener.refused()["malformed"] == 1


@pytest.mark.parametrize("header", [
    "Digest", "Digest username=", 'Digest username="anpr-1",nc=zz,nonce="a.b.c",qop=auth',
    "Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode(), "Bearer x",
    "Digest " + "a" * 6000,
    'Digest username="anpr-1",realm="cityhub-edge box1",uri="/push/isapi?system=traffic",'
    f'nonce="{digest.make_nonce(SECRET)}",nc=00000001,cnonce="c",qop=auth,response="\u00e9"',
])
def test_garbage_credentials_are_refused_without_harm(listener: Listener, header: str) -> None:
    r = listener.post(headers={"Authorization": header.encode("utf-8")})
    assert r.status_code in (401, 431), r.text
    ok = listener.post(auth=httpx.DigestAuth("anpr-1", CAMERA_PW))
    assert ok.status_code == 200 and len(listener.landed) == 1


def test_no_devices_means_every_push_is_refused(serve: Callable[..., Listener]) -> None:
    listener = serve(devices=[])
    assert listener.post(auth=httpx.DigestAuth("anpr-1", CAMERA_PW)).status_code == 401
    assert listener.landed == []


def test_anonymous_pushes_only_when_switched_on(serve: Callable[..., Listener]) -> None:
    listener = serve(devices=[], allow_anonymous=True)
    assert listener.post().status_code == 200
    assert listener.guard.stats()["accepted"] == {"anonymous": 1}


def test_check_warns_about_exposed_password_files_and_anonymous_pushes(tmp_path: Path) -> None:
    doc = site(tmp_path, allow_anonymous=True)
    (tmp_path / "secrets" / "anpr").chmod(0o644)
    path = tmp_path / "site.yaml"
    write_private(path, yaml.safe_dump(doc))
    out = subprocess.run([sys.executable, "-m", "hub", "edge", "--config", str(path), "check"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "password_file" in out.stderr and "readable by other users" in out.stderr
    assert "allow_anonymous" in out.stderr and "old-cam may send its password in clear" in (
        out.stderr)
    assert CAMERA_PW not in out.stdout + out.stderr and WIM_PW not in out.stdout + out.stderr
    assert "3 push devices" in out.stdout


def test_the_demo_box_takes_pushes_from_its_own_device_only(
    private_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    city = demo_config(tmp_path, "127.0.0.1:1")  # no camera server: the box reports it, runs on
    stack = Stack(tmp_path)
    try:
        start_edge(stack, tmp_path, city, private_broker.url)
        assert stack.edge_push is not None and stack.edge_url is not None
        user, password = stack.edge_push
        assert stat.S_IMODE((tmp_path / "edge-push-password").stat().st_mode) == 0o600
        body = json.dumps({"events": [{
            "id": str(new_event_id()), "occurred_at": "2026-01-01T00:00:00+00:00",
            "source_system": "edge", "kind": "probe", "department": "police",
            "site": "xinhua-5th"}]}).encode()
        url = f"{stack.edge_url}/push/cityhub-events?system=edge"
        assert httpx.post(url, content=body, timeout=10).status_code == 401
        ok = httpx.post(url, content=body, timeout=10, auth=httpx.DigestAuth(user, password))
        assert ok.status_code == 200, ok.text
        health = httpx.get(f"{stack.edge_url}/health", timeout=10).json()
        assert health["push"] == {"accepted": {user: 1}, "refused": {"missing": 2}}
        assert password not in (tmp_path / "edge-site.yaml").read_text()
    finally:
        stack.close()
