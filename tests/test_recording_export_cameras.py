"""Export from several cameras at once (#17): one request, one MP4 per camera and one
signed manifest over all of them; playback rights and the audit log per camera. Real hub,
relay process recording two synthetic cameras, ffprobe."""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from devkit.fixtures.hubapi import HubApi, seed_city
from devkit.fixtures.wait import wait_for
from hub.audit import evidence, signing
from streams.playback.export import verify_manifest
from tests.test_recording import recording, segments

CAMS = ["police-s0-c0", "police-s0-c1"]


def _probe(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_entries",
         "format=duration:stream=codec_name,nb_read_frames", "-of", "json", str(path)],
        capture_output=True, text=True, check=True, timeout=30)
    return json.loads(out.stdout)


def _audited(hub: HubApi) -> list[tuple[str, dict[str, Any]]]:
    with hub.owner() as conn:
        return [(t, d) for t, d in conn.execute(
            "SELECT target_id, detail FROM audit_log WHERE action = 'recording.export'"
            " ORDER BY seq")]


def test_one_request_exports_several_cameras_under_one_signed_manifest(
    hub_api: HubApi, camera_factory: Any, relay_factory: Any, tmp_path: Path
) -> None:
    seed_city(hub_api)
    cams = camera_factory(CAMS, mode="loop")
    root = tmp_path / "rec"
    relay = relay_factory(
        {c: cams.url(c) for c in CAMS}, play_secret=hub_api.runtime.play_secret,
        recording={**recording(root, segment_s=2),
                   "cameras": {c: {"mode": "continuous"} for c in CAMS}})
    object.__setattr__(hub_api.runtime.config.access, "relay_http_url", relay.http)
    wait_for(lambda: all(len(segments(root, c)) >= 4 for c in CAMS), timeout=60,
             what="footage of both cameras")
    start = max(segments(root, c)[0]["end"] for c in CAMS) + 0.2
    end = start + 3.0
    body = {"cameras": CAMS, "purpose": "case 2026-117",
            "start": datetime.fromtimestamp(start, UTC).isoformat(),
            "end": datetime.fromtimestamp(end, UTC).isoformat()}
    r = hub_api.client.post("/api/v1/recordings/exports", json=body,
                            headers=hub_api.headers("police"))
    assert r.status_code == 200, r.text
    pem = hub_api.client.get("/api/v1/evidence/public-key").json()["public_key_pem"]
    assert evidence.verify(r.content, signing.load_public(pem)) == []
    z = zipfile.ZipFile(io.BytesIO(r.content))
    manifest = json.loads(z.read(evidence.MANIFEST))
    assert manifest["format"] == "cityhub-recordings/1" and manifest["missing_media"] == []
    assert set(manifest["files"]) == {"export.json"} | {
        f"recordings/{c}.{kind}" for c in CAMS for kind in ("mp4", "manifest.json")}
    asked = json.loads(z.read("export.json"))
    assert asked["cameras"] == CAMS and asked["purpose"] == "case 2026-117"
    for cam in CAMS:
        mp4 = z.read(f"recordings/{cam}.mp4")
        (tmp_path / f"{cam}.mp4").write_bytes(mp4)
        probe = _probe(tmp_path / f"{cam}.mp4")
        (stream,) = probe["streams"]
        assert stream["codec_name"] == "h264" and int(stream["nb_read_frames"]) >= 40
        assert 2.7 <= float(probe["format"]["duration"]) <= 4.2, probe  # from the GOP start
        relay_manifest = json.loads(z.read(f"recordings/{cam}.manifest.json"))
        assert relay_manifest["camera"] == cam and relay_manifest["segments"]
        assert verify_manifest(relay_manifest, mp4, hub_api.runtime.play_secret) == []
    # A file changed after export: the bundle no longer verifies, and says which.
    tampered = io.BytesIO()
    with zipfile.ZipFile(tampered, "w") as out:
        for name in z.namelist():
            data = z.read(name)
            out.writestr(name, data[:-1] + bytes([data[-1] ^ 1]) if name.endswith("c1.mp4")
                         else data)
    assert evidence.verify(tampered.getvalue(), signing.load_public(pem)) == [
        f"recordings/{CAMS[1]}.mp4: content does not match its SHA-256"]
    audited = _audited(hub_api)
    assert [t for t, _ in audited] == CAMS
    assert all(d["purpose"] == "case 2026-117" and d["segments"] >= 1 for _, d in audited)

    # Rights per camera: traffic may play back c0 (grant) but only watch c1 live: refused,
    # and nothing is cut.
    r = hub_api.client.post("/api/v1/grants", headers=hub_api.headers("police"), json={
        "grantee": "traffic", "resources": ["video", "playback"], "purpose": "joint case",
        "cameras": [CAMS[0]], "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()})
    assert r.status_code in (200, 201), r.text
    r = hub_api.client.post("/api/v1/grants", headers=hub_api.headers("police"), json={
        "grantee": "traffic", "resources": ["video"], "purpose": "watch",
        "cameras": [CAMS[1]], "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()})
    assert r.status_code in (200, 201), r.text
    traffic = hub_api.headers("traffic")
    refused = hub_api.client.post("/api/v1/recordings/exports", json=body, headers=traffic)
    assert refused.status_code == 403 and CAMS[1] in refused.text, refused.text
    unknown = hub_api.client.post("/api/v1/recordings/exports", headers=traffic,
                                  json={**body, "cameras": [CAMS[0], "no-such-cam"]})
    assert unknown.status_code == 422, unknown.text
    assert len(_audited(hub_api)) == 2
    ok = hub_api.client.post("/api/v1/recordings/exports", headers=traffic,
                             json={**body, "cameras": [CAMS[0]]})
    assert ok.status_code == 200, ok.text
    assert [t for t, _ in _audited(hub_api)] == [*CAMS, CAMS[0]]
