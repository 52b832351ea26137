"""Evidence export: an event, its snapshot and clip, signed; and the key that checks it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from core.model import Ident
from hub.api.routers.events import fetch_event
from hub.audit import evidence, signing
from hub.auth.access import Anonymous, Caller, public, require
from hub.auth.roles import Role
from hub.recordings_export import may_play_back, relay_export
from hub.store.media import MediaMismatch, load_media

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
    recording_cameras: Annotated[list[Ident] | None, Query(
        max_length=16, description="Footage from these cameras too (nearby ones)."
    )] = None,
) -> Response:
    """With ``recording_pre_s``/``recording_post_s`` the bundle also carries the recorded
    footage around the event of the event's camera and of ``recording_cameras`` (an MP4
    and the relay's signed segment manifest each); that needs a playback right on every
    one of them."""
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
    cameras = [str(event["camera"])] if event.get("camera") else []
    cameras += recording_cameras or []
    if (recording_pre_s or recording_post_s) and cameras:
        media += _recording(caller, event, cameras, recording_pre_s, recording_post_s, missing)
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
    cameras: list[str],
    pre_s: float,
    post_s: float,
    missing: list[dict[str, str]],
) -> list[evidence.MediaFile]:
    """Footage around the event from its camera and ``cameras`` (rights checked on every
    one before any is cut), exported by their relays (held there from now)."""
    at = datetime.fromisoformat(str(event["occurred_at"])).timestamp()
    start, end = at - pre_s, at + post_s
    allowed = [may_play_back(caller, c, start, end) for c in dict.fromkeys(cameras)]
    files: list[evidence.MediaFile] = []
    for camera in allowed:
        footage = relay_export(caller, camera, start, end, missing)
        if footage is not None:
            files += footage.files()
    return files
