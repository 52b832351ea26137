"""Evidence export: an event, its snapshot and clip, signed; and the key that checks it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

import httpx
from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import BaseModel

from hub.api.routers.events import fetch_event
from hub.audit import evidence, signing
from hub.auth.access import Anonymous, Caller, public, require
from hub.auth.roles import Role
from hub.relays import relay_bases
from hub.store.media import MediaMismatch, load_media
from streams.auth.tokens import issue_play_token

router = APIRouter(tags=["evidence"])


class PublicKey(BaseModel):
    key_id: str
    algorithm: str
    public_key_pem: str
    verify_with: str


@router.get(
    "/evidence/public-key",
    response_model=PublicKey,
    summary="The key that verifies evidence manifests and audit roots offline",
)
def public_key(ctx: Anonymous = public("a public key is meant to be public")) -> dict[str, Any]:
    key = ctx.runtime.signing_key
    return {
        "key_id": signing.key_id(key),
        "algorithm": "Ed25519",
        "public_key_pem": signing.public_pem(key),
        "verify_with": "python -m hub.audit.evidence BUNDLE.zip PUBLIC_KEY.pem",
    }


@router.post(
    "/events/{event_id}/evidence",
    summary="Export an event as a signed evidence bundle",
    response_class=Response,
    responses={
        200: {
            "content": {"application/zip": {}},
            "description": "ZIP: event.json, media/, manifest.json, manifest.sig",
        }
    },
)
def export(
    event_id: UUID,
    caller: Caller = require(Role.analyst),
    recording_pre_s: float = Query(0, ge=0, le=3600, description="Footage before the event."),
    recording_post_s: float = Query(0, ge=0, le=3600, description="Footage after the event."),
) -> Response:
    """With ``recording_pre_s``/``recording_post_s`` the bundle also carries the camera's
    recorded footage around the event (MP4 and the relay's signed segment manifest);
    that needs a playback right on the camera."""
    event = fetch_event(caller, event_id)
    media: list[evidence.MediaFile] = []
    missing: list[dict[str, str]] = []
    for i, ref in enumerate(event.get("media") or []):
        try:
            held = load_media(caller.db, ref, caller.runtime.media_dir, evidence.MAX_MEDIA_BYTES)
        except MediaMismatch as exc:
            missing.append({"uri": str(ref.get("uri")), "reason": str(exc)})
            continue
        if held is None:
            missing.append({"uri": str(ref.get("uri")), "reason": "not held by the hub"})
            continue
        data, suffix = held
        media.append(evidence.MediaFile(f"media/{i:02d}-{ref.get('kind', 'file')}{suffix}", data))
    if (recording_pre_s or recording_post_s) and event.get("camera"):
        media += _recording(caller, event, recording_pre_s, recording_post_s, missing)
    bundle, manifest = evidence.build(
        event, media, missing, caller.principal.actor, caller.runtime.signing_key
    )
    caller.audit(
        "evidence.export",
        target_type="event",
        target_id=str(event_id),
        department=event["department"],
        files=manifest["files"],
        missing=len(missing),
    )
    return Response(
        bundle,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="evidence-{event_id}.zip"'},
    )


def _recording(
    caller: Caller,
    event: dict[str, Any],
    pre_s: float,
    post_s: float,
    missing: list[dict[str, str]],
) -> list[evidence.MediaFile]:
    """The camera's footage around the event, exported by its relay (held there from now)."""
    camera = caller.camera_or_404(str(event["camera"]))
    window = caller.visibility.playback_window(
        camera["department_id"], camera["site_id"], camera["id"], camera["source_system"]
    )
    if window is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "no playback grant for this camera")
    at = datetime.fromisoformat(str(event["occurred_at"])).timestamp()
    start, end = at - pre_s, at + post_s
    lo, hi = (w.timestamp() if w else None for w in window)
    if (lo is not None and start < lo) or (hi is not None and end > hi):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "outside the playback grant's window")
    token = issue_play_token(
        caller.runtime.play_secret,
        camera["id"],
        caller.principal.actor,
        ttl_s=300,
        protocols=["playback"],
    )
    base = relay_bases(caller.runtime.config, camera["id"])[0]
    auth = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(timeout=120) as http:
            made = http.post(
                f"{base}/recordings/{camera['id']}/exports",
                json={"start": start, "end": end},
                headers=auth,
            )
            made.raise_for_status()
            body = made.json()
            mp4 = http.get(base + body["mp4"], headers=auth)
            mp4.raise_for_status()
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        missing.append({"uri": f"recording:{camera['id']}", "reason": f"relay export: {exc}"})
        return []
    name = f"recordings/{camera['id']}"
    manifest = json.dumps(body["manifest"], indent=2, sort_keys=True).encode()
    return [
        evidence.MediaFile(f"{name}.mp4", mp4.content),
        evidence.MediaFile(f"{name}.manifest.json", manifest),
    ]
