"""Recorded footage of cameras for evidence: rights checked per camera, cut by the relay.

The hub checks the caller's ``playback`` right (and its window of recorded time) on every
camera first, then asks each camera's relay for an export of the range (``POST
/recordings/{camera}/exports`` with a short play token allowing playback only): an MP4 and
the relay's HMAC-signed manifest of the segments it came from. Bundles carry both under
the hub's own Ed25519 signature (``hub.audit.evidence``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import HTTPException, status

from core.http import sync_client
from hub.api.common import CodedError, unknown_id
from hub.audit import evidence
from hub.auth.access import Caller
from hub.relays import relay_bases
from streams.auth.tokens import issue_play_token


@dataclass
class Footage:
    camera: dict[str, Any]
    mp4: bytes
    manifest: dict[str, Any]  #: the relay's signed segment manifest

    def files(self) -> list[evidence.MediaFile]:
        name = f"recordings/{self.camera['id']}"
        body = json.dumps(self.manifest, indent=2, sort_keys=True).encode()
        return [evidence.MediaFile(f"{name}.mp4", self.mp4),
                evidence.MediaFile(f"{name}.manifest.json", body)]


def may_play_back(caller: Caller, camera_id: str, start: float, end: float,
                  unknown: int = 404) -> dict[str, Any]:
    """The camera, if the caller may play back [start, end] of it (``unknown`` for a camera
    hidden or not there, alike; 403 without the right)."""
    try:
        camera = caller.camera_or_404(camera_id)
    except CodedError:
        raise unknown_id("no such camera", unknown) from None
    window = caller.visibility.playback_window(
        camera["department_id"], camera["site_id"], camera["id"], camera["source_system"]
    )
    if window is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            f"no playback grant for camera {camera_id}")
    lo, hi = (w.timestamp() if w else None for w in window)
    if (lo is not None and start < lo) or (hi is not None and end > hi):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            f"outside the playback grant's window for camera {camera_id}")
    return camera


def relay_export(caller: Caller, camera: dict[str, Any], start: float, end: float,
                 missing: list[dict[str, str]]) -> Footage | None:
    """The relay's export of [start, end] (held there from now); None (and a line in
    ``missing``) if the relay has nothing or cannot be reached."""
    token = issue_play_token(caller.runtime.play_secret, camera["id"], caller.principal.actor,
                             ttl_s=300, protocols=["playback"])
    base = relay_bases(caller.runtime.config, camera["id"])[0]
    auth = {"Authorization": f"Bearer {token}"}
    try:
        with sync_client(timeout=120) as http:
            made = http.post(f"{base}/recordings/{camera['id']}/exports",
                             json={"start": start, "end": end}, headers=auth)
            made.raise_for_status()
            body = made.json()
            mp4 = http.get(base + body["mp4"], headers=auth)
            mp4.raise_for_status()
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        reason = exc.response.text[:200] if isinstance(exc, httpx.HTTPStatusError) else str(exc)
        missing.append({"uri": f"recording:{camera['id']}", "reason": f"relay export: {reason}"})
        return None
    return Footage(camera, mp4.content, body["manifest"])
