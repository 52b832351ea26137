"""The relay refuses anonymous callers on everything that names a camera: health and
metrics need the service token; playing, snapshots, clips and fMP4 need a play token."""

from __future__ import annotations

import httpx

from devkit.fixtures.streams import SERVICE
from streams.auth.service import bearer_matches, derive_service_token

NAMING_A_CAMERA = [
    ("GET", "/health"), ("GET", "/health/cam1"), ("GET", "/metrics"), ("GET", "/recordings"),
    ("GET", "/snapshot/cam1.jpg"), ("POST", "/whep/cam1"), ("POST", "/clips/cam1"),
]


def test_anonymous_and_wrong_callers_learn_no_camera(cameras, relay_factory):
    relay = relay_factory({"cam1": cameras.url("cam1")})
    wrong = {"Authorization": "Bearer " + derive_service_token("another-secret-0123456789abcdef")}
    play = {"Authorization": f"Bearer {relay.token('cam1')}"}  # a viewer's token is not service
    for method, path in NAMING_A_CAMERA:
        for headers in ({}, wrong):
            body = {"json": {"pre_s": 1, "post_s": 1}} if path.startswith("/clips") else {}
            r = httpx.request(method, f"{relay.http}{path}", headers=headers, timeout=10, **body)
            assert r.status_code in (401, 403), (method, path, r.status_code)
            assert "cam1" not in r.text, (method, path)
    for path in ("/health", "/metrics"):
        assert httpx.get(f"{relay.http}{path}", headers=play, timeout=10).status_code == 401
    # The service credential reads them (the hub's health page, Prometheus).
    health = httpx.get(f"{relay.http}/health", headers=SERVICE, timeout=10)
    assert health.status_code == 200 and health.json()["cameras"][0]["camera_id"] == "cam1"
    metrics = httpx.get(f"{relay.http}/metrics", headers=SERVICE, timeout=10)
    assert metrics.status_code == 200 and 'camera="cam1"' in metrics.text
    # Liveness and readiness name nothing and stay open for supervisors.
    assert httpx.get(f"{relay.http}/healthz", timeout=10).status_code == 200


def test_bearer_matching_is_exact() -> None:
    token = derive_service_token("s" * 40)
    assert bearer_matches(f"Bearer {token}", token)
    assert bearer_matches(f"bearer {token}", token)
    assert not bearer_matches(f"Bearer {token[:-1]}", token)
    assert not bearer_matches(token, token)
    assert not bearer_matches(None, token)
